"""Reading a config file as strict YAML: bounded in size, no aliases, no repeated keys."""

from __future__ import annotations

from pathlib import Path

from nbalife.errors import BadInput, cut, quoted, unreadable

MAX_CONFIG_BYTES = 1 << 20  # a config file is a few kB; a larger one is refused unread


def strict_loader():  # noqa: ANN202
    """A SafeLoader that refuses aliases (no billion laughs) and repeated keys (no silent
    last-one-wins), so the file means what it says."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent, index):  # noqa: ANN001, ANN202
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.MarkedYAMLError(problem="aliases (*name) are not allowed in a config file",
                                           problem_mark=mark)
            return super().compose_node(parent, index)

        def construct_yaml_int(self, node):  # noqa: ANN001, ANN202
            try:
                return super().construct_yaml_int(node)
            except ValueError:  # past Python's int-from-text limit: say where, not Python's words
                digits = sum(c.isdigit() for c in str(node.value))
                raise yaml.MarkedYAMLError(problem=f"a whole number of {digits} digits is too long to read",
                                           problem_mark=node.start_mark) from None

        def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN202
            seen = set()
            for key_node, value_node in node.value:
                try:
                    self.construct_object(value_node, deep=True)  # a bad value is named by its key
                except yaml.MarkedYAMLError as exc:
                    if exc.problem_mark is None or isinstance(exc.problem, str) and exc.problem.startswith("key "):
                        raise
                    key_text = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                    raise yaml.MarkedYAMLError(problem=f"key {quoted(key_text, 40)}: {exc.problem}",
                                               problem_mark=exc.problem_mark) from None
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    raise yaml.MarkedYAMLError(problem="a key must be plain text", problem_mark=key_node.start_mark)
                if key in seen:
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {quoted(key)}", problem_mark=key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    return StrictLoader


def read_config_file(path: Path) -> dict:
    """The top-level mapping of a YAML config file; BadInput (one line) for anything else."""
    import yaml

    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise BadInput(f"{path}: config file larger than {MAX_CONFIG_BYTES} bytes")
        data = yaml.load(raw.decode(), Loader=strict_loader())  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        raise BadInput(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise unreadable(path, "config file", exc) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BadInput(f"{path}: invalid YAML: {problem}{where}") from None
    except RecursionError:  # deep nesting
        raise BadInput(f"{path}: invalid YAML: nested too deeply") from None
    except ValueError as exc:  # a value no constructor could read, not one of those named above
        raise BadInput(f"{path}: invalid YAML: {cut(str(exc).split(';')[0], 80)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of sections at the top level")
    return data
