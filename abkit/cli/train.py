"""`abkit train-generator`: build the reference corpus from the world, train the neural generator."""

from __future__ import annotations

from pathlib import Path

import typer

from abkit.cli.app import app, user_errors


@app.command("train-generator")
@user_errors
def train_generator_cmd(
    out: Path = typer.Option(..., "--out", help="output directory, e.g. models/reason_v1"),
    corpus_items: int = typer.Option(36000, "--corpus-items", min=10, help="catalog items the corpus is built from"),
    personas_per_item: int = typer.Option(3, "--personas-per-item", min=1, max=13,
                                          help="rows per item: this many of the 12 personas + none"),
    steps: int = typer.Option(1500, "--steps", min=1, help="optimizer steps"),
    seed: int = typer.Option(0, "--seed", help="seed of catalog, corpus, split, init and batches"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    d_model: int = typer.Option(160, "--d-model", min=8),
    layers: int = typer.Option(4, "--layers", min=1),
    heads: int = typer.Option(4, "--heads", min=1),
    learning_rate: float = typer.Option(2e-3, "--lr", min=0.0),
    eval_every: int = typer.Option(100, "--eval-every", min=1, help="steps between validation + checkpoint"),
    heldout_items: float = typer.Option(0.03, "--heldout-items", min=0.0, max=0.9),
    evaluate: bool = typer.Option(True, "--evaluate/--no-evaluate", help="measure the quality bars after training"),
    eval_items: int = typer.Option(300, "--eval-items", min=10, help="held-out items used by the quality bars"),
) -> None:
    """Train the neural reason generator and save weights, tokenizer and metadata.json."""
    from abkit.errors import AbkitError
    from generators.neural import backend

    backend.configure_threads()
    from generators.neural.recipe import train_generator
    from generators.neural.train import TrainConfig

    if d_model % heads:
        raise AbkitError(f"--d-model {d_model} is not divisible by --heads {heads}")
    cfg = TrainConfig(d_model=d_model, n_layers=layers, n_heads=heads, batch_size=batch_size, steps=steps,
                      eval_every=min(eval_every, steps), learning_rate=learning_rate, seed=seed,
                      warmup_steps=min(100, max(1, steps // 10)))
    train_generator(out, corpus_items=corpus_items, heldout_items=heldout_items, personas_per_item=personas_per_item,
                    config=cfg, log=typer.echo)
    if evaluate:
        from generators.neural.evaluate import evaluate_model

        report = evaluate_model(out, n_items=eval_items, log=typer.echo)
        typer.echo(f"quality: {report['summary']}")
