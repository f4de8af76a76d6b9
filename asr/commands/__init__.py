"""One module per ``asr`` subcommand: ``add_arguments(parser)`` and ``run(args)``.

Each module imports its heavy dependencies inside ``run`` so that
``asr --help`` and argument errors stay instant.
"""
