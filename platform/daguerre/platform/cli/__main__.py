from daguerre.platform.cli import main

main(prog_name="daguerre")
