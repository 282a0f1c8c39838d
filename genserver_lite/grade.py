"""``python -m genserver_lite.grade SUBMISSIONS... --csv grades.csv``: the teacher's gradebook.

See :mod:`genserver_lite.grading.gradebook`.
"""

import sys

from .grading.gradebook import main

if __name__ == "__main__":
    sys.exit(main())
