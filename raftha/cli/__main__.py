"""`python -m raftha.cli ...` runs the same CLI as the `raftha` console script."""

from raftha.cli import main

if __name__ == "__main__":
    main()
