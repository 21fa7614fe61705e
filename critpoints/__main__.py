from critpoints.cli import main

raise SystemExit(main())
