"""Template filters of the manager's console, for pages it does not render itself (the
home page's "New project" button)."""

from django import template

from ..permissions import can_create_projects

register = template.Library()


@register.filter
def may_create_projects(user) -> bool:
    """Whether the "New project" page would let this user in (the API's rule)."""
    return can_create_projects(user)
