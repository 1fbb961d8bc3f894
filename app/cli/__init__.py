"""The ``framecast`` command line: thin typer commands over the engine, distributed and AWS layers."""
