"""How a loaded table is named as an Airflow asset: the URI template and its placeholders.

A connection's extra may hold a template, checked when the connection is read, so this module
lives with the connection settings and imports nothing but ``string``.
"""

from __future__ import annotations

import string

#: The asset of a loaded table unless the operator or the connection names it otherwise.
DEFAULT_ASSET_URI_TEMPLATE = "planasonix://{connection_id}/{table}"

#: What an asset URI template may hold, and what each placeholder becomes for ``public.orders``.
URI_PLACEHOLDERS: dict[str, str] = {
    "connection_id": "the Planasonix connection id of the sync or backfill",
    "table": "the table as the results name it (public.orders)",
    "schema": "the part before the last dot (public), empty without a dot",
    "name": "the part after the last dot (orders)",
    "table_path": "the table with dots as slashes (public/orders), for warehouse URIs",
}

_TABLE_PLACEHOLDERS = frozenset({"table", "name", "table_path"})


def check_uri_template(template: str, field: str) -> str:
    """The template itself, or a ValueError naming ``field``, the bad placeholder and the fix."""
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{field} {template!r} is not a valid template: {exc}") from None
    unknown = sorted(used - set(URI_PLACEHOLDERS))
    if unknown:
        raise ValueError(
            f"{field} {template!r} uses unknown placeholder(s) {', '.join(unknown)}; "
            f"the known ones are {', '.join('{' + p + '}' for p in URI_PLACEHOLDERS)}"
        )
    if not used & _TABLE_PLACEHOLDERS:
        raise ValueError(
            f"{field} {template!r} must hold {{table}}, {{name}} or {{table_path}}, "
            "or every table would be the same asset"
        )
    return template


def asset_uri(template: str, connection_id: str, table: str) -> str:
    """The asset URI of one loaded table."""
    schema, _, name = table.rpartition(".")
    return template.format(
        connection_id=connection_id,
        table=table,
        schema=schema,
        name=name,
        table_path=table.replace(".", "/"),
    )
