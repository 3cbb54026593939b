"""One display name per newswire, whatever a dateline wrote ("PRNewswire", "/美通社/" -> "PR Newswire").

Shared by normalize (a new release's dateline) and the store (its migration rewrites the names
older archives kept as written, so the wire facet shows each wire once). Changing a display name
here changes only releases stored from then on, unless a new store migration calls
`store.schema.rename_wires()` again.
"""

from __future__ import annotations

import re

# Keys: casefolded, letters and digits only.
_WIRE_NAMES = {
    "prnewswire": "PR Newswire", "美通社": "PR Newswire", "新华美通": "PR Newswire",
    "businesswire": "Business Wire",
    "globenewswire": "GlobeNewswire",
    "primenewswire": "GlobeNewswire",  # GlobeNewswire's name until 2008
    "accesswire": "ACCESS Newswire", "accessnewswire": "ACCESS Newswire",
    "cnw": "CNW", "cnwgroup": "CNW", "canadanewswire": "CNW",
    "newmediawire": "NewMediaWire",
    "newsfile": "Newsfile", "newsfilecorp": "Newsfile",
    "mediaoutreach": "Media OutReach", "mediaoutreachnewswire": "Media OutReach",
    "247pressrelease": "24-7PressRelease",
    "noticiasnewswire": "Noticias Newswire",
    "prismmediawire": "PRISM MediaWire",
    "einpresswire": "EIN Presswire", "einpresswirecom": "EIN Presswire",
    "marketwired": "Marketwired", "marketwire": "Marketwired",
    "jcnnewswire": "JCN Newswire", "acnnewswire": "ACN Newswire",
}  # fmt: skip
_NOT_ALNUM = re.compile(r"[\W_]+")


def wire_name(raw: str) -> str:
    """Return the one display name of the wire a dateline names ("GLOBE NEWSWIRE" -> "GlobeNewswire").

    PR Newswire's services ("PRNewswire-HISPANIC PR WIRE", "PRNewswire-AsiaNet", "/美通社/") are PR
    Newswire. An unknown wire keeps its own spelling, whitespace collapsed.
    """
    key = _NOT_ALNUM.sub("", raw.casefold())
    if key.startswith("prnewswire"):
        return "PR Newswire"
    return _WIRE_NAMES.get(key) or " ".join(raw.split())
