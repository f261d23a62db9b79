"""python -m fastcnn: see fastcnn.cli."""
import sys

from fastcnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
