from monitor.cli import main

main(prog_name="press-monitor")  # the name users type, also under `python -m monitor`
