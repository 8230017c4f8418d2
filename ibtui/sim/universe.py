"""The tradable universe: real US stocks and ETFs (real conids where known), a few EUR listings,
and generated filler stocks for very large portfolios."""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Instrument", "Universe"]

_TRADE_EXCHANGE = {"NASDAQ": "ISLAND", "NYSE": "NYSE", "ARCA": "ARCA", "IBIS": "IBIS", "AEB": "AEB"}
_LISTING = {"NASDAQ": "NASDAQ.NMS"}
_VENUE = {"IBIS": "XETRA", "AEB": "AEB"}


@dataclass(frozen=True)
class Instrument:
    conid: int
    symbol: str
    name: str
    exchange: str  # primary listing: NASDAQ, NYSE, ARCA, IBIS, AEB
    currency: str
    type: str  # "COMMON" | "ETF"
    price: Decimal  # reference price at the market's anchor time
    daily_vol: float  # daily volatility (fraction)
    adv: int  # average daily volume, shares
    sector: str | None = None
    group: str | None = None
    chinese_name: str | None = None
    filler: bool = False
    asset_class: str = "STK"

    @property
    def venue(self) -> str:
        return _VENUE.get(self.exchange, "US")

    @property
    def is_us(self) -> bool:
        return self.venue == "US"

    @property
    def listing_exchange(self) -> str:
        """As order lists spell it (``NASDAQ.NMS``)."""
        return _LISTING.get(self.exchange, self.exchange)

    @property
    def trade_exchange(self) -> str:
        return _TRADE_EXCHANGE.get(self.exchange, self.exchange)

    @property
    def tick(self) -> Decimal:
        return Decimal("0.01")


_SECTORS = {
    "TECH": "Technology",
    "FIN": "Financial",
    "STAPLES": "Consumer, Non-cyclical",
    "ENERGY": "Energy",
    "CONS": "Consumer, Cyclical",
    "IND": "Industrial",
    "COMM": "Communications",
}
_CHINESE = {265598: "&#x82F9;&#x679C;&#x516C;&#x53F8;"}

# conid|symbol|name|listing|reference price|daily vol|avg volume (M)|S(tock)/E(TF)|sector|group|ccy
# Conids are IBKR's where known (API.md, the example bodies, public captures).
_TABLE = """
265598|AAPL|APPLE INC|NASDAQ|222.91|0.016|45|S|TECH|Computers|USD
272093|MSFT|MICROSOFT CORP|NASDAQ|408.46|0.014|21|S|TECH|Software|USD
8314|IBM|INTL BUSINESS MACHINES CORP|NYSE|208.25|0.013|4|S|TECH|Computers|USD
756733|SPY|SPDR S&P 500 ETF TRUST|ARCA|569.82|0.009|38|E|||USD
320227571|QQQ|INVESCO QQQ TRUST SERIES 1|NASDAQ|487.52|0.011|30|E|||USD
9579970|IWM|ISHARES RUSSELL 2000 ETF|ARCA|222.47|0.014|28|E|||USD
73128548|DIA|SPDR DOW JONES INDUSTRIAL AVERAG|ARCA|419.30|0.008|3|E|||USD
3691937|AMZN|AMAZON.COM INC|NASDAQ|195.78|0.019|40|S|CONS|Internet|USD
4815747|NVDA|NVIDIA CORP|NASDAQ|136.05|0.03|230|S|TECH|Semiconductors|USD
76792991|TSLA|TESLA INC|NASDAQ|242.84|0.035|90|S|CONS|Auto Manufacturers|USD
107113386|META|META PLATFORMS INC-CLASS A|NASDAQ|560.92|0.021|12|S|COMM|Internet|USD
208813719|GOOGL|ALPHABET INC-CL A|NASDAQ|169.24|0.018|25|S|COMM|Internet|USD
208813720|GOOG|ALPHABET INC-CL C|NASDAQ|170.68|0.018|18|S|COMM|Internet|USD
15124833|NFLX|NETFLIX INC|NASDAQ|748.01|0.022|3|S|COMM|Internet|USD
270639|INTC|INTEL CORP|NASDAQ|23.21|0.028|60|S|TECH|Semiconductors|USD
4391|AMD|ADVANCED MICRO DEVICES|NASDAQ|140.73|0.03|40|S|TECH|Semiconductors|USD
268084|CSCO|CISCO SYSTEMS INC|NASDAQ|55.39|0.012|18|S|COMM|Telecommunications|USD
272800|ORCL|ORACLE CORP|NYSE|168.84|0.018|8|S|TECH|Software|USD
1520593|JPM|JPMORGAN CHASE & CO|NYSE|220.71|0.013|9|S|FIN|Banks|USD
10098|BAC|BANK OF AMERICA CORP|NYSE|41.81|0.015|35|S|FIN|Banks|USD
13824|WMT|WALMART INC|NYSE|82.47|0.01|15|S|CONS|Retail|USD
8894|KO|COCA-COLA CO/THE|NYSE|65.13|0.008|14|S|STAPLES|Beverages|USD
11017|PEP|PEPSICO INC|NASDAQ|166.42|0.009|6|S|STAPLES|Beverages|USD
13977|XOM|EXXON MOBIL CORP|NYSE|119.54|0.013|15|S|ENERGY|Oil&Gas|USD
5213|CVX|CHEVRON CORP|NYSE|155.98|0.013|8|S|ENERGY|Oil&Gas|USD
8719|JNJ|JOHNSON & JOHNSON|NYSE|159.44|0.009|7|S|STAPLES|Pharmaceuticals|USD
10291|PG|PROCTER & GAMBLE CO/THE|NYSE|165.50|0.009|7|S|STAPLES|Cosmetics/Personal Care|USD
6459|DIS|WALT DISNEY CO/THE|NYSE|96.48|0.015|9|S|COMM|Media|USD
49462172|V|VISA INC-CLASS A SHARES|NYSE|290.04|0.011|7|S|FIN|Diversified Finan Serv|USD
35336283|MA|MASTERCARD INC - A|NYSE|502.35|0.011|3|S|FIN|Diversified Finan Serv|USD
4762|BA|BOEING CO/THE|NYSE|150.21|0.022|9|S|IND|Aerospace/Defense|USD
11361|PFE|PFIZER INC|NYSE|28.07|0.014|35|S|STAPLES|Pharmaceuticals|USD
9889|MRK|MERCK & CO. INC.|NYSE|101.30|0.012|10|S|STAPLES|Pharmaceuticals|USD
4065|ABT|ABBOTT LABORATORIES|NYSE|113.57|0.011|6|S|STAPLES|Healthcare-Products|USD
9720|T|AT&T INC|NYSE|22.18|0.012|33|S|COMM|Telecommunications|USD
13435352|VZ|VERIZON COMMUNICATIONS INC|NYSE|42.04|0.011|17|S|COMM|Telecommunications|USD
13905|UNH|UNITEDHEALTH GROUP INC|NYSE|564.40|0.014|4|S|STAPLES|Healthcare-Services|USD
6604766|HD|HOME DEPOT INC|NYSE|392.33|0.012|3|S|CONS|Retail|USD
9408|MCD|MCDONALD'S CORP|NYSE|292.78|0.01|3|S|CONS|Retail|USD
9939|NKE|NIKE INC -CL B|NYSE|76.24|0.017|11|S|CONS|Apparel|USD
12087792|COST|COSTCO WHOLESALE CORP|NASDAQ|876.90|0.011|2|S|CONS|Retail|USD
51529211|GLD|SPDR GOLD SHARES|ARCA|252.03|0.009|8|E|||USD
15547841|TLT|ISHARES 20+ YEAR TREASURY BOND|NASDAQ|92.49|0.009|40|E|||USD
27684070|EFA|ISHARES MSCI EAFE ETF|ARCA|80.51|0.008|14|E|||USD
27684036|EEM|ISHARES MSCI EMERGING MARKETS|ARCA|44.36|0.011|25|E|||USD
136155102|VOO|VANGUARD S&P 500 ETF|ARCA|523.63|0.009|5|E|||USD
12340038|VTI|VANGUARD TOTAL STOCK MKT ETF|ARCA|282.61|0.009|3|E|||USD
4157|XLF|FINANCIAL SELECT SECTOR SPDR|ARCA|46.09|0.011|40|E|||USD
4215235|XLE|ENERGY SELECT SECTOR SPDR|ARCA|89.66|0.013|15|E|||USD
4215220|XLK|TECHNOLOGY SELECT SECT SPDR|ARCA|227.20|0.012|6|E|||USD
28812380|SMH|VANECK SEMICONDUCTOR ETF|NASDAQ|245.15|0.02|8|E|||USD
43645865|ADBE|ADOBE INC|NASDAQ|478.01|0.019|3|S|TECH|Software|USD
44652000|CRM|SALESFORCE INC|NYSE|290.85|0.019|6|S|TECH|Software|USD
118089500|PYPL|PAYPAL HOLDINGS INC|NASDAQ|79.72|0.022|12|S|FIN|Commercial Services|USD
498843743|UBER|UBER TECHNOLOGIES INC|NYSE|70.88|0.025|20|S|IND|Internet|USD
40565311|SAP|SAP SE|IBIS|216.80|0.014|1.5|S|TECH|Software|EUR
14204|SIE|SIEMENS AG-REG|IBIS|176.42|0.013|1.2|S|IND|Miscellaneous Manufactur|EUR
117902840|ASML|ASML HOLDING NV|AEB|614.90|0.022|0.9|S|TECH|Semiconductors|EUR
"""


def _parse(line: str) -> Instrument:
    conid, symbol, name, exchange, price, vol, adv_m, kind, sector, group, ccy = line.split("|")
    return Instrument(
        conid=int(conid),
        symbol=symbol,
        name=name,
        exchange=exchange,
        currency=ccy,
        type="ETF" if kind == "E" else "COMMON",
        price=Decimal(price),
        daily_vol=float(vol),
        adv=int(float(adv_m) * 1_000_000),
        sector=_SECTORS[sector] if sector else None,
        group=group or None,
        chinese_name=_CHINESE.get(int(conid)),
    )


CORE: tuple[Instrument, ...] = tuple(_parse(x) for x in _TABLE.strip().splitlines())


class Universe:
    """Instruments by conid and symbol; ``ensure_fillers(n)`` adds generated stocks on demand."""

    def __init__(self, seed: int = 1, instruments: tuple[Instrument, ...] = CORE) -> None:
        self._seed = seed
        self._by_conid: dict[int, Instrument] = {}
        self._by_symbol: dict[str, list[Instrument]] = {}
        self._fillers: list[Instrument] = []
        for inst in instruments:
            self._add(inst)

    def _add(self, inst: Instrument) -> None:
        if inst.conid in self._by_conid:
            raise ValueError(f"duplicate conid {inst.conid}")
        self._by_conid[inst.conid] = inst
        self._by_symbol.setdefault(inst.symbol, []).append(inst)

    def __len__(self) -> int:
        return len(self._by_conid)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_conid.values())

    def get(self, conid: int) -> Instrument | None:
        return self._by_conid.get(conid)

    def by_symbol(self, symbol: str) -> list[Instrument]:
        return list(self._by_symbol.get(symbol.upper(), ()))

    def search(self, text: str, *, by_name: bool = False) -> list[Instrument]:
        """Symbol match first (exact, then prefix); with ``by_name`` also company-name words."""
        q = text.strip().upper()
        if not q:
            return []
        exact = self.by_symbol(q)
        if not by_name:
            prefix = sorted(
                (
                    i
                    for i in self._by_conid.values()
                    if i.symbol != q and i.symbol.startswith(q) and not i.filler
                ),
                key=lambda i: (len(i.symbol), i.symbol),
            )
            return exact + prefix
        seen = {i.conid for i in exact}
        named = [
            i
            for i in self._by_conid.values()
            if i.conid not in seen and not i.filler and q in i.name
        ]
        return exact + named

    def fillers(self, n: int) -> list[Instrument]:
        """The first ``n`` generated stocks (created deterministically from the seed)."""
        while len(self._fillers) < n:
            k = len(self._fillers)
            rng = random.Random(f"filler-{self._seed}-{k}")  # noqa: S311 (simulation)
            symbol = self._fresh_symbol(rng)
            inst = Instrument(
                conid=900_000_001 + k,
                symbol=symbol,
                name=f"{symbol} SIMULATED HOLDINGS INC",
                exchange=rng.choice(("NASDAQ", "NYSE")),
                currency="USD",
                type="COMMON",
                price=Decimal(f"{rng.uniform(5, 400):.2f}"),
                daily_vol=rng.uniform(0.01, 0.035),
                adv=rng.randint(200_000, 20_000_000),
                filler=True,
            )
            self._add(inst)
            self._fillers.append(inst)
        return self._fillers[:n]

    def _fresh_symbol(self, rng: random.Random) -> str:
        while True:
            symbol = "".join(rng.choice(string.ascii_uppercase) for _ in range(rng.choice((3, 4))))
            if symbol not in self._by_symbol:
                return symbol
