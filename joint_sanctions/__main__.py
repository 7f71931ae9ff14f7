"""``python -m joint_sanctions`` runs the command line."""

from .cli import run

run()
