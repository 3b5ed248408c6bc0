#!/usr/bin/env python3
"""Wait for Greenlight's deploy gate, then exit 0 (go) or non-zero with the blockers printed.

Standard library only, so any CI runner with Python 3 can download and run it:

    GREENLIGHT_TOKEN=glt_… python3 greenlight-gate.py --url https://greenlight.example.com \\
        --project payments --environment production --sha "$CI_COMMIT_SHA" --timeout 1800

(or ``python -m gate.client …`` inside the Greenlight repository). It asks
``POST /api/projects/<project>/gate/`` with a project token every ``--interval`` seconds while the
answer is "wait". Exit codes: 0 go; 1 no-go; 2 still waiting when the timeout ran out; 3 the gate
could not be asked (bad token, unknown project, bad input).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

GO, NO_GO, TIMED_OUT, FAILED = 0, 1, 2, 3


def ask(url: str, project: str, token: str, sha: str, environment: str) -> dict[str, Any]:
    body = json.dumps({"sha": sha, "environment": environment}).encode()
    request = urllib.request.Request(
        f"{url.rstrip('/')}/api/projects/{project}/gate/",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "greenlight-gate",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def _say(text: str) -> None:
    print(text, flush=True)


def _blockers(answer: dict[str, Any]) -> None:
    for blocker in answer.get("blockers") or []:
        _say(f"  - {blocker}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Wait for Greenlight's deploy gate.")
    parser.add_argument("--url", default=os.environ.get("GREENLIGHT_URL", ""))
    parser.add_argument("--project", default=os.environ.get("GREENLIGHT_PROJECT", ""))
    parser.add_argument("--environment", default=os.environ.get("GREENLIGHT_ENVIRONMENT", ""))
    parser.add_argument("--sha", default="")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds (default 1800)")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between asks")
    args = parser.parse_args(argv)
    token = os.environ.get("GREENLIGHT_TOKEN", "")
    missing = [
        name
        for name, value in (
            ("--url", args.url),
            ("--project", args.project),
            ("--environment", args.environment),
            ("--sha", args.sha),
            ("GREENLIGHT_TOKEN", token),
        )
        if not value
    ]
    if missing:
        _say("greenlight-gate: missing " + ", ".join(missing))
        return FAILED
    deadline = time.monotonic() + args.timeout
    answer: dict[str, Any] = {}
    shown = None
    while True:
        try:
            answer = ask(args.url, args.project, token, args.sha, args.environment)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")[:500]
            if exc.code != 429 and exc.code < 500:
                _say(f"greenlight-gate: the gate refused the question (HTTP {exc.code}): {text}")
                return FAILED
            _say(f"greenlight-gate: HTTP {exc.code}, asking again")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            _say(f"greenlight-gate: no answer ({exc}), asking again")
        else:
            state = answer.get("state")
            if state == "go":
                _say(answer.get("detail") or "Go.")
                return GO
            if state != "wait":
                _say(answer.get("detail") or "No-go.")
                _blockers(answer)
                return NO_GO
            if answer.get("blockers") != shown:
                shown = answer.get("blockers")
                _say("Waiting for Greenlight: " + (answer.get("release_name") or args.sha))
                _blockers(answer)
        if time.monotonic() + args.interval > deadline:
            _say(f"greenlight-gate: still not allowed after {args.timeout:g} seconds.")
            _blockers(answer)
            return TIMED_OUT
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
