from evalharness.commands.main import main

main()
