"""The app's "simulate traffic" job: what `abkit simulate` does, for a spec that may have no texts yet.

    python -m webapp.simulate_job SPEC --db DB [--users N] [--days D] [--seed S]

A new experiment created in the app has no reasons in the warehouse: after the synthetic
world (catalog, users) is in place, the arms with a template generator get their texts
(fast, no model) so simulated users see real texts; other arms show the fallback, as
`abkit simulate` would. Then the traffic is simulated and ingested.
"""

from __future__ import annotations

import argparse
import sys
import tempfile


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp.simulate_job")
    parser.add_argument("spec")
    parser.add_argument("--db", required=True)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from abkit.errors import AbkitError
    from abkit.spec import load_spec
    from abkit.warehouse import one_row, open_warehouse
    from experiments.simulate.pipeline import fill_world, simulate_into
    from experiments.simulate.traffic import SimOptions
    from generators.runner import run_generate

    try:
        spec = load_spec(args.spec)
        with open_warehouse(args.db) as con, tempfile.TemporaryDirectory(prefix="abkit-ui-sim-") as tmp:
            print("1/3 world: catalog and users", flush=True)
            fill_world(con, tmp, seed=args.seed, n_users=args.users)
            templated = [a.name for a in spec.arms if a.generator is not None and a.generator.type == "template"]
            has = one_row(con.execute("SELECT count(*) FROM reasons WHERE experiment = ?", [spec.key]))[0]
            if templated and not has:
                print(f"2/3 texts for template arms: {', '.join(templated)}", flush=True)
                print(run_generate(spec, con, arms=templated, progress=False).summary(), flush=True)
            else:
                print("2/3 texts: already in the warehouse", flush=True)
            print(f"3/3 simulating {args.users:,} users", flush=True)
            out = simulate_into(spec, con, SimOptions(seed=args.seed, days=args.days), n_users=args.users,
                                out_dir=tmp)
        c = out.counts
        print(f"simulated {spec.key}: {c['users_enrolled']:,} users, {c['exposures']:,} exposures, "
              f"{c['events']:,} events; fallback rate {out.fallback_rate['overall']:.1%}", flush=True)
    except AbkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
