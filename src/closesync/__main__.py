from closesync.cli import main

main()
