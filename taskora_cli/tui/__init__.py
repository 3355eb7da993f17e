"""``taskora top``: the live dashboard.

state.py (a pure reducer over key events), fetch.py (one snapshot per refresh), render.py
(pure: state -> lines) and app.py (the loop: the only part that touches the terminal).
"""
