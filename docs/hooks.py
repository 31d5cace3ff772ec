"""MkDocs hooks: pages generated at every build, so they cannot drift from the code.

- `cli.md`, rendered from `tfp_flows.cli.build_parser()`: a new option or subcommand appears on the
  next `mkdocs build` (`tfp_flows.cli` imports no TensorFlow, so this costs milliseconds);
- `reference/<package>.md`, one mkdocstrings entry per name in the package's `__all__` (read from
  the source with `ast`, without importing TensorFlow): every public name has a reference entry.
"""
from __future__ import annotations

import argparse
import ast
import html
import os
import sys

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI_PAGE = "cli.md"
# Package -> page title; the order of the API reference's navigation.
REFERENCE_PACKAGES = {
    "bijectors": "Bijectors",
    "layers": "Layers",
    "networks": "Networks",
    "models": "Models",
    "data": "Data",
    "training": "Training",
    "export": "Export",
}


def public_names(package: str) -> list[str]:
    """The names in `tfp_flows.<package>.__all__`, read from its `__init__.py` without importing it."""
    path = os.path.join(ROOT, "tfp_flows", package, "__init__.py")
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), path)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise ValueError(f"{path}: no literal __all__; the API reference lists a package's __all__.")


def render_reference(package: str, title: str) -> str:
    """The Markdown of one API reference page: the package's docstring, then every public name."""
    lines = [f"# {title}: `tfp_flows.{package}`", "",
             f"::: tfp_flows.{package}", "    options:", "      members: false", "      show_root_heading: false", ""]
    for name in public_names(package):
        lines += [f"::: tfp_flows.{package}.{name}", ""]
    return "\n".join(lines)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Each subcommand's parser and its one-line help, in the order `tfp-flows --help` lists them."""
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}
    return {}


def _flags(action: argparse.Action) -> str:
    names = ", ".join(f"`{name}`" for name in action.option_strings) or f"`{action.dest}`"
    if action.nargs == 0:
        return names
    metavar = action.metavar or (action.dest.upper() if action.option_strings else "")
    if action.choices and not action.metavar:
        metavar = "{" + ",".join(str(choice) for choice in action.choices) + "}"
    return f"{names} `{metavar}`" if metavar and action.option_strings else names


def _cell(text: str) -> str:
    return html.escape(" ".join(text.split())).replace("|", "\\|")


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| option | default | description |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        required = action.required or not action.option_strings
        default = "required" if required else (
            "" if action.default in (None, False, argparse.SUPPRESS) else f"`{action.default}`")
        help_text = (action.help or "") % {"default": action.default} if action.help else ""
        rows.append(f"| {_flags(action)} | {default} | {_cell(help_text)} |")
    return rows


def render_cli_reference(parser: argparse.ArgumentParser) -> str:
    """The Markdown of the CLI reference: usage, description and an options table per subcommand."""
    lines = [
        "# CLI reference",
        "",
        "Generated from `tfp_flows.cli.build_parser()` when the site is built; `tfp-flows --help` and",
        "`tfp-flows COMMAND --help` print the same in a terminal.",
        "",
        "```text",
        parser.format_usage().strip(),
        "```",
        "",
        parser.description or "",
        "",
    ]
    if parser.epilog:
        lines += ["```text", parser.epilog.strip(), "```", ""]
    for name, (sub, summary) in _subcommands(parser).items():
        lines += [f"## `tfp-flows {name}`", "", summary[:1].upper() + summary[1:] + ".", "",
                  "```text", sub.format_usage().strip(), "```", ""]
        if sub.description:
            lines += [sub.description, ""]
        lines += _options_table(sub) + [""]
    return "\n".join(lines)


def on_config(config):
    # Snippets (`--8<--` includes of benchmarks/results/) resolve against the repository, whatever the
    # working directory `mkdocs build -f .../mkdocs.yml` runs in.
    config.mdx_configs["pymdownx.snippets"]["base_path"] = [ROOT, os.path.join(ROOT, "docs")]
    return config


def on_files(files, config):
    sys.path.insert(0, ROOT)
    try:
        from tfp_flows.cli import build_parser
    finally:
        sys.path.remove(ROOT)
    files.append(File.generated(config, CLI_PAGE, content=render_cli_reference(build_parser())))
    for package, title in REFERENCE_PACKAGES.items():
        files.append(File.generated(config, f"reference/{package}.md", content=render_reference(package, title)))
    return files
