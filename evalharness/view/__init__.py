"""Every judgment inspectable: view.html, the terminal view (``show``) and their entries.

``entries`` gathers what the run recorded about each prompt; ``pages`` and ``site`` render
it as self-contained HTML; ``show`` prints one entry with rich.
"""
