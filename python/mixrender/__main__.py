from mixrender.cli import app

app(prog_name="mixrender")
