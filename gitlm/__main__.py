from gitlm.cli import main

main()
