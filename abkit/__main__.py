from abkit.cli import app

app(prog_name="abkit")
