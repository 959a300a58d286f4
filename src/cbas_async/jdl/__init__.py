"""gLite JDL import: `parse_jdl` reads the text (`tokens`, `parser`), `jdl_to_spec` turns it
into a `JobSpec` (`convert`).

JDL is ClassAd-like: `[ Name = value; ... ]`, brackets optional, names case-insensitive,
`#`, `//` and `/* */` comments. Values are double-quoted strings, numbers, true/false,
`{...}` lists and nested `[...]` records. Anything else (`other.GlueCEStateStatus ==
"Production"`) is kept as an unevaluated `Expression`, so real Requirements and Rank
clauses parse and can be ignored. Every problem raises `InvalidSpec`; syntax errors say
("", "JDL line L column C: ...").
"""

from cbas_async.jdl.convert import jdl_to_spec
from cbas_async.jdl.parser import Attribute, Expression, Record, Value, parse_jdl

__all__ = ["Attribute", "Expression", "Record", "Value", "jdl_to_spec", "parse_jdl"]
