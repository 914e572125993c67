import sys

try:
    from simulator.cli import main
except KeyboardInterrupt:   # Ctrl-C while the command line's modules load: not an error
    print("interrupted", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
