"""HTML views of monitoring, one module per concept; thin function views: find the object the
user may see (404 otherwise), call one service, render or redirect."""
