"""The pages: function views, one module per concept, each answering with the page or the
section it changed."""
