"""`python -m app`: the same as the `nbparity` console script."""
from app.cli.main import main

raise SystemExit(main())
