# Copyright: fullstack.webapp maintainers
# MIT License (see galaxy.yml)
"""The undeclared_variables lookup: the variables of a role's prefix that its argument
specification does not declare."""

from __future__ import annotations

DOCUMENTATION = r"""
---
name: undeclared_variables
short_description: The variables of a role's prefix that its argument specification does not declare
version_added: 0.3.0
description:
  - Takes variable names (for example from C(ansible.builtin.varnames)) and returns one
    message per name that has the prefix of one of O(roles) (C(gunicorn_) for C(gunicorn))
    but that no entry point of that role's C(meta/argument_specs.yml) declares, with the
    closest declared name when there is one (for C(gunicorn_worker), "did you mean
    gunicorn_workers?"). Names without such a prefix are left alone.
  - The facts a role publishes (the list C(__<role>_published_facts) of its
    C(vars/main.yml)) are outputs, not inputs, and never reported.
  - For the roles of O(warn), the messages are printed as warnings instead of returned.
options:
  _terms:
    description: The variable names to look at.
    type: list
    elements: str
    required: true
  roles:
    description: The collection's roles whose prefixes and specifications to check against.
    type: list
    elements: str
    required: true
  warn:
    description: The roles of O(roles) whose undeclared names are only warned about.
    type: list
    elements: str
    default: []
"""

RETURN = r"""
_raw:
  description: One message per undeclared name, sorted by role and name.
  type: list
  elements: str
"""

import functools  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402
from ansible.utils.display import Display  # noqa: E402
from ansible_collections.fullstack.webapp.plugins.module_utils.variables import (  # noqa: E402
    declared_options,
    undeclared,
)

ROLES = Path(__file__).resolve().parent.parent.parent / "roles"


# libyaml's loader when PyYAML has it: it parses the five roles' specifications and vars
# in 35 ms instead of 267 ms, on every host of every run.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=32)
def role_file(role: str, relative: str) -> dict[str, object]:
    path = ROLES / role / relative
    if not path.exists() and relative.startswith("vars/"):
        return {}
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=LOADER) or {}  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        message = f"cannot read {relative} of role {role}: {exc}"
        raise AnsibleLookupError(message) from exc
    return data if isinstance(data, dict) else {}


class LookupModule(LookupBase):  # type: ignore[misc]
    def run(
        self, terms: list[object], variables: dict[str, object] | None = None, **kwargs: object
    ) -> list[str]:
        self.set_options(var_options=variables, direct=kwargs)
        warned = set(self.get_option("warn"))
        # Longest prefix first: a name belongs to one role only.
        roles = sorted(self.get_option("roles"), key=len, reverse=True)
        names = [str(term) for term in terms]
        problems: list[str] = []
        for role in sorted(roles):
            prefix = f"{role}_"
            longer = [r for r in roles if len(r) > len(role) and r.startswith(prefix)]
            mine = [
                n
                for n in names
                if n.startswith(prefix) and not any(n.startswith(f"{r}_") for r in longer)
            ]
            if not mine:
                continue
            published = role_file(role, "vars/main.yml").get(f"__{role}_published_facts")
            declared = declared_options(role_file(role, "meta/argument_specs.yml"))
            if isinstance(published, list):
                declared |= {str(fact) for fact in published}
            for name, suggestion in undeclared(mine, declared):
                problem = f"{name} is not a variable of the {role} role" + (
                    f" (did you mean {suggestion}?)" if suggestion else ""
                )
                if role in warned:
                    Display().warning(f"{problem}; it is ignored")
                else:
                    problems.append(
                        f"{problem}: rename or remove it, or set {role}_undeclared_variables: warn"
                    )
        return problems
