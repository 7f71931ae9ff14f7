"""The Chinese half of a YAML syntax error (lint code ``yaml_syntax``).

PyYAML words its errors in English only; policy staff read the Chinese half first, so each of its
phrases is put into Chinese here. Quoted characters and tokens stay as written (they are what the file
holds); a phrase this table does not know falls back to a Chinese sentence that only locates the
problem, so the Chinese half never carries English.
"""

from __future__ import annotations

import re

__all__ = ["yaml_error_zh"]

# PyYAML's names of tokens and nodes, as they appear in its messages.
_TOKENS: dict[str, str] = {
    "<block end>": "块结束", "<block mapping start>": "块映射开始", "<block sequence start>": "块列表开始",
    "<block entry>": "列表项“-”", "<flow mapping start>": "“{”", "<flow mapping end>": "“}”",
    "<flow sequence start>": "“[”", "<flow sequence end>": "“]”", "<flow entry>": "“,”", "<key>": "键",
    "<value>": "值“:”", "<scalar>": "标量值", "<alias>": "别名", "<anchor>": "锚点", "<tag>": "标签",
    "<document start>": "文档开始“---”", "<document end>": "文档结束“...”", "<stream start>": "文件开始",
    "<stream end>": "文件结尾", "<directive>": "指令",
    "block mapping": "块映射", "block collection": "块集合", "flow mapping": "流式映射",
    "flow sequence": "流式列表", "block scalar": "块标量", "quoted scalar": "带引号的文本",
    "double-quoted scalar": "双引号文本", "single-quoted scalar": "单引号文本", "simple key": "简单键",
    "plain scalar": "普通标量", "directive": "指令", "tag": "标签", "anchor": "锚点", "alias": "别名",
    "node": "节点", "mapping": "映射", "block": "块", "flow": "流式",
}

_TOKEN = r"('[^']*'|\"[^\"]*\"|<[a-z ]+>)"
# (English pattern, Chinese template); groups are quoted characters or token names.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(en), zh) for en, zh in (
    (r"while scanning an? ([a-z -]+)", "扫描{0}时"),
    (r"while parsing an? ([a-z -]+)", "解析{0}时"),
    (r"while composing an? ([a-z -]+)", "组合{0}时"),
    (r"while scanning for the next token", "读取下一个记号时"),
    (r"could not find expected ':'", "找不到应有的冒号“:”"),
    (r"mapping values are not allowed here", "此处不能出现映射的值（冒号“:”位置不对，或缩进有误）"),
    (r"mapping keys are not allowed here", "此处不能出现映射的键"),
    (r"sequence entries are not allowed here", "此处不能出现列表项“-”（缩进有误？）"),
    (r"found character " + _TOKEN + r" that cannot start any token", "发现不能作为记号开头的字符 {0}（制表符请改为空格）"),
    (r"found undefined alias " + _TOKEN, "发现未定义的别名 {0}"),
    (r"found duplicate anchor " + _TOKEN + r"; first occurrence", "发现重复的锚点 {0}；第一次出现处"),
    (r"second occurrence", "第二次出现处"),
    (r"found unknown escape character " + _TOKEN, "发现未知的转义字符 {0}"),
    (r"found unexpected end of stream", "文件意外结束（引号或括号未闭合？）"),
    (r"found unexpected document separator", "发现意外的文档分隔符"),
    (r"found duplicate key", "发现重复的键"),
    (r"expected a single document in the stream", "文件中只能有一个文档"),
    (r"but found another document", "却发现了另一个文档"),
    (r"invalid indentation or unclosed '\[' or '\{'", "缩进有误，或“[”“{”未闭合"),
    (r"expected (.+?), but (?:found|got) " + _TOKEN, "应为 {0}，实际为 {1}"),
    (r"expected the node content, but found " + _TOKEN, "应为节点内容，实际为 {0}"),
))


def _token(text: str) -> str:
    """A token name in Chinese (``a or b`` too); a quoted character stays as the file holds it."""
    if " or " in text:
        return " 或 ".join(_token(part) for part in text.split(" or "))
    bare = text.strip("'\"")
    if bare in _TOKENS:
        return _TOKENS[bare]
    return _TOKENS.get(text, text)


def _phrase(text: str) -> str | None:
    for pattern, template in _PHRASES:
        found = pattern.fullmatch(text.strip())
        if found:
            parts = [_token(part) for part in found.groups()]
            if any(re.search("[A-Za-z]", p) and not p.startswith(("'", '"')) for p in parts):
                return None
            return template.format(*parts)
    return None


def yaml_error_zh(context: str | None, problem: str | None) -> str:
    """The Chinese for PyYAML's ``context`` and ``problem``: each phrase translated, else a sentence that
    only says where to look (the location is in the problem's ``line:col``)."""
    parts = [part for part in (context, problem) if part]
    translated = [_phrase(part) for part in parts]
    if parts and all(t is not None for t in translated):
        return "，".join(t for t in translated if t)
    return "文件结构不符合 YAML 语法，请检查该处的缩进、冒号和引号"
