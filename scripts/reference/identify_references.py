#!/usr/bin/env python3
"""1:N identification on cfp-dev with one reference per subject against several.

Drives a running `facegate serve` over HTTP: enrolls every cfp-dev person as a subject,
then identifies their other photos (`POST /api/v1/identify`) and counts how often the top
match above the threshold is the right person (rank-1 identification rate; a probe with no
match above the threshold counts as a miss). Two galleries, each on a fresh server:

  frontal   one reference per subject: frontal_01
  +profile  frontal_01 and profile_01

Probes: frontal_02..04 and profile_02..04 of every person. Enrollment checks must be off
(`policy.enrollment_checks = "allow"`), since a profile often fails to match its own
subject's frontal reference, which is the point of enrolling it.

    FACEGATE__AUTH__ADMIN_API_KEY=KEY FACEGATE__POLICY__ENROLLMENT_CHECKS=allow \\
      facegate serve &                                   # a fresh data folder per gallery
    python3 scripts/reference/identify_references.py --url http://127.0.0.1:8080 \\
      --key KEY --gallery frontal                        # then +profile on a fresh server

Needs `requests`.
"""

import argparse
import pathlib
import sys

import requests


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--gallery", choices=["frontal", "+profile"], required=True)
    parser.add_argument("--data", default="../shared/datasets/cfp-dev")
    args = parser.parse_args()
    root = pathlib.Path(args.data)
    people = sorted(p for p in root.iterdir() if p.is_dir())
    session = requests.Session()
    session.headers["X-API-Key"] = args.key

    def post(path, photo, **fields):
        with open(photo, "rb") as f:
            r = session.post(args.url + path, files={"file": f}, data=fields, timeout=60)
        return r

    def subject(person):
        # Subject names allow letters, digits, spaces and ._:-@ only.
        return person.name.replace("'", "")

    refs = ["frontal_01.jpg"] + (["profile_01.jpg"] if args.gallery == "+profile" else [])
    for person in people:
        for name in refs:
            # The main face (a few photos hold a second, smaller face).
            r = post("/api/v1/reference", person / name, subject=subject(person), face_index="0")
            if r.status_code != 201:
                print(f"enroll {person.name}/{name}: {r.status_code} {r.text}", file=sys.stderr)
    totals = {}
    for person in people:
        for kind in ("frontal", "profile"):
            for i in (2, 3, 4):
                r = post("/api/v1/identify", person / f"{kind}_{i:02d}.jpg", limit="1")
                body = r.json()
                top = body.get("matches") or []
                hit = bool(top) and top[0]["subject"] == subject(person)
                seen, hits = totals.get(kind, (0, 0))
                totals[kind] = (seen + 1, hits + hit)
    for kind, (seen, hits) in totals.items():
        print(f"gallery {args.gallery}, {kind} probes: {hits}/{seen} = {100 * hits / seen:.1f}%")


if __name__ == "__main__":
    main()
