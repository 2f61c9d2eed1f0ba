"""Stage 5, output: the rendered files -> the output folder, written atomically and only
after the leak scan (``secretscan.py``) found no secret value in them."""
