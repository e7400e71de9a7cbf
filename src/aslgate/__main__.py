from aslgate.cli import main

main()
