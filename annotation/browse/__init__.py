"""The item browser: every item of a project with its status, and one item with every label,
skip, review and audit entry (README "Browsing items"). Reviewers and managers only."""
