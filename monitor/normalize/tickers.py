"""Tickers: the "(EXCHANGE: SYMBOL)" quotes in a release, as "EXCHANGE:SYMBOL" strings.

"(NYSE: ABC)", "(Nasdaq: BFI, BFIIW)", "(NASDAQ:SXTP; SXTPW)", "(Nasdaq Stockholm: HEXA B)",
"(NYSE: BABA; HKEX: 9988 (HKD Counter))", "（纽交所：TUYA；港交所：2391）", "(NASDAQ: $GOOGL)", "(02209.HK)".
Only inside parentheses, only after a known exchange: "NYSE: ABC" in running text, "(Note: x)"
and "(CRYPTO: $ETH)" are not tickers.
"""

from __future__ import annotations

import re
import unicodedata

TICKER_SCAN = 20_000

_EXCHANGES = (
    "NYSE American", "NYSE Arca", "NYSE MKT", "NYSE", "AMEX",
    "NasdaqGS", "NasdaqGM", "NasdaqCM", "Nasdaq Stockholm", "Nasdaq Helsinki", "Nasdaq Copenhagen",
    "Nasdaq Iceland", "Nasdaq First North", "Nasdaq Baltic", "NASDAQ",
    "TSX Venture", "TSX-V", "TSX.V", "TSXV", "TSX", "CSE", "CNX", "NEO", "Cboe CA", "Cboe Canada", "Cboe", "CBOE",
    "OTCQX", "OTCQB", "OTCID", "OTC Pink", "Pink", "OTCBB", "OTCMKTS", "OTC",
    "LSE", "AIM", "ASX", "NZX", "HKEX", "HKSE", "SEHK", "SGX", "JSE", "TASE", "NSE", "BSE",
    "SSE", "SZSE", "TWSE", "KRX", "KOSDAQ", "TSE", "TYO",
    "Euronext Growth Paris", "Euronext Growth Oslo", "Euronext Growth Brussels", "Euronext Growth Milan",
    "Euronext Growth Dublin", "Euronext Growth", "Euronext Paris", "Euronext Brussels", "Euronext Amsterdam",
    "Euronext", "BME Growth", "BME", "Oslo Børs", "FSE", "Frankfurt", "FWB", "FRA", "GR",
    "XETRA", "SIX", "BMV", "B3", "OMX",
    "纽交所", "纳斯达克", "港交所", "香港联交所", "上交所", "深交所",
)  # fmt: skip
_EXCHANGE = "|".join(
    r"\s+".join(re.escape(w) for w in name.split()) for name in sorted(_EXCHANGES, key=len, reverse=True)
)
_SYMBOL = r"\$?[A-Z0-9]{1,6}(?:[.\-][A-Z0-9]{1,4})?(?:\s[A-D](?=\s*[,;)]|\s*$))?"
_NOT_SYMBOL = r"(?![\w.-])"
_LIST_ITEM = rf"\s*[,;]\s*(?:and\s+)?(?!(?i:{_EXCHANGE})\s*:)(?P<sym>{_SYMBOL}){_NOT_SYMBOL}"
_TICKER = re.compile(rf"(?<![\w-])(?P<ex>(?i:{_EXCHANGE}))\s*:\s*(?P<sym>{_SYMBOL}){_NOT_SYMBOL}")
_MORE_SYMBOL = re.compile(_LIST_ITEM)
_HK_CODE = re.compile(r"(?<![\w.])(\d{4,5})\.HK(?![\w.])")
# Parenthesized groups, one nesting level deep ("(NYSE: BABA; HKEX: 9988 (HKD Counter))").
_PARENS = re.compile(r"\(((?:[^()\n]|\([^()\n]{0,100}\)){3,300})\)")
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
_EXCHANGE_ALIASES = {
    "NASDAQGS": "NASDAQ", "NASDAQGM": "NASDAQ", "NASDAQCM": "NASDAQ", "纳斯达克": "NASDAQ",
    "TSX-V": "TSXV", "TSX.V": "TSXV", "TSX VENTURE": "TSXV",
    "CBOE CANADA": "CBOE CA", "PINK": "OTC PINK",
    "FRANKFURT": "FSE", "FWB": "FSE", "FRA": "FSE",
    "HKSE": "HKEX", "SEHK": "HKEX", "港交所": "HKEX", "香港联交所": "HKEX",
    "纽交所": "NYSE", "上交所": "SSE", "深交所": "SZSE",
}  # fmt: skip


def extract_tickers(text: str) -> tuple[str, ...]:
    """Return the sorted unique "EXCHANGE:SYMBOL" tickers quoted in parentheses in text."""
    scan = text[:TICKER_SCAN]
    if _FULL_WIDTH.search(scan):
        # Full-width parentheses, colons and letters ("（ＮＹＳＥ：ABC）") as their ASCII selves.
        scan = _FULL_WIDTH.sub(lambda m: unicodedata.normalize("NFKC", m[0]), scan)
    found: set[str] = set()
    for group in _PARENS.finditer(scan):
        inner = group[1]
        if ":" in inner:
            for m in _TICKER.finditer(inner):
                exchange = " ".join(m["ex"].split()).upper()
                exchange = _EXCHANGE_ALIASES.get(exchange, exchange)
                found.add(_ticker(exchange, m["sym"]))
                pos = m.end()
                while (more := _MORE_SYMBOL.match(inner, pos)) is not None:  # "(Nasdaq: BFI, BFIIW)"
                    found.add(_ticker(exchange, more["sym"]))
                    pos = more.end()
        if ".HK" in inner:
            found.update(_ticker("HKEX", code) for code in _HK_CODE.findall(inner))
    return tuple(sorted(found))


def _ticker(exchange: str, symbol: str) -> str:
    """Return "EXCHANGE:SYMBOL"; Hong Kong codes as four digits or more ("00700" -> "0700")."""
    symbol = symbol.lstrip("$")
    if exchange == "HKEX" and symbol.isdigit():
        symbol = str(int(symbol)).zfill(4)
    return f"{exchange}:{symbol}"
