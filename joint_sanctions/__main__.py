"""``python -m joint_sanctions`` runs the command line."""

from ._cli import run

run()
