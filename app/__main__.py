"""`python -m app`: the same as the `nbparity` console script."""
from app.cli import main

raise SystemExit(main())
