"""What the synthetic trips look like: regions, hot spots, datasources, hour-of-day profiles.

Pure data (no numpy): :mod:`extract_load.generate.sample` turns a :class:`Spec` into arrays and
draws from them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

DATASOURCES: tuple[str, ...] = (
    "cheap_mobile",
    "funny_car",
    "baba_car",
    "pt_search_app",
    "bad_diesel_vehicles",
)


@dataclass(frozen=True)
class HotSpot:
    name: str
    lon: float
    lat: float
    sigma: float  # gaussian spread in degrees (~0.004 deg is a few hundred metres)
    weight: float


@dataclass(frozen=True)
class Region:
    name: str
    weight: float  # share of all trips (normalised across regions)
    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float
    hotspots: tuple[HotSpot, ...]
    datasource_weights: dict[str, float]  # missing datasource = never seen in this region

    def contains(self, lon: float, lat: float) -> bool:
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max


@dataclass(frozen=True)
class Spec:
    """Everything that shapes the synthetic data except the seed and the row count."""

    regions: tuple[Region, ...]
    datasources: tuple[str, ...] = DATASOURCES
    noise_fraction: float = 0.1  # share of endpoints drawn uniformly over the bbox
    # Relative trip volume per hour of day (index 0 = 00:00-00:59).
    weekday_hours: tuple[float, ...] = (
        0.8, 0.5, 0.35, 0.3, 0.4, 1.0, 2.6, 5.5, 7.5, 5.6, 3.6, 3.4,
        3.8, 3.6, 3.4, 3.9, 5.4, 7.2, 7.0, 5.0, 3.4, 2.5, 1.8, 1.2,
    )  # fmt: skip
    weekend_hours: tuple[float, ...] = (
        1.8, 1.5, 1.2, 0.9, 0.6, 0.5, 0.6, 0.9, 1.6, 2.5, 3.4, 4.0,
        4.4, 4.4, 4.2, 4.0, 4.0, 4.1, 4.2, 3.9, 3.4, 2.9, 2.5, 2.2,
    )  # fmt: skip
    weekend_day_weight: float = 0.65  # a weekend day has 65% of a weekday's volume

    def region(self, name: str) -> Region:
        for region in self.regions:
            if region.name == name:
                return region
        raise KeyError(name)

    def only(self, names: Iterable[str]) -> Spec:
        """The same spec restricted to the named regions (their relative weights kept).

        A region's trips then look exactly as they do in the full mix, at the density of a
        file 1 / (its share) times bigger: e.g. 27M Prague-only rows put as many trips in
        Prague as a 100M-row mixed file does.
        """
        wanted = list(dict.fromkeys(names))
        known = [region.name for region in self.regions]
        unknown = [name for name in wanted if name not in known]
        if unknown or not wanted:
            raise ValueError(
                f"unknown region(s) {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(known)}"
            )
        return replace(self, regions=tuple(r for r in self.regions if r.name in wanted))


def _hs(name: str, lon: float, lat: float, weight: float, sigma: float = 0.004) -> HotSpot:
    return HotSpot(name, lon, lat, sigma, weight)


DEFAULT_SPEC = Spec(
    regions=(
        Region(
            "Prague", 0.27, 14.22, 14.71, 49.94, 50.18,
            (
                _hs("Old Town Square", 14.4205, 50.0875, 3.0),
                _hs("Wenceslas Square", 14.4280, 50.0810, 2.5),
                _hs("Hlavni nadrazi", 14.4355, 50.0830, 2.0),
                _hs("Vaclav Havel Airport", 14.2600, 50.1008, 1.5, 0.006),
                _hs("Holesovice", 14.4400, 50.1040, 1.0),
                _hs("Smichov", 14.4040, 50.0710, 1.0),
                _hs("Chodov", 14.4910, 50.0310, 0.7),
            ),
            {"cheap_mobile": 3.0, "funny_car": 4.0, "baba_car": 1.0, "pt_search_app": 2.0},
        ),
        Region(
            "Hamburg", 0.22, 9.73, 10.33, 53.39, 53.74,
            (
                _hs("Hauptbahnhof", 10.0067, 53.5530, 3.0),
                _hs("Airport", 9.9880, 53.6300, 1.5, 0.006),
                _hs("Altona", 9.9350, 53.5520, 1.5),
                _hs("HafenCity", 9.9990, 53.5410, 1.2),
                _hs("Reeperbahn", 9.9600, 53.5500, 1.8),
                _hs("Barmbek", 10.0450, 53.5870, 0.8),
            ),
            {
                "cheap_mobile": 2.0,
                "baba_car": 3.0,
                "pt_search_app": 2.0,
                "bad_diesel_vehicles": 1.5,
            },
        ),
        Region(
            "Turin", 0.17, 7.57, 7.77, 44.99, 45.14,
            (
                _hs("Porta Nuova", 7.6780, 45.0620, 2.5),
                _hs("Porta Susa", 7.6650, 45.0720, 2.0),
                _hs("Lingotto", 7.6650, 45.0320, 1.2),
                _hs("Piazza Castello", 7.6860, 45.0710, 2.0),
                _hs("Politecnico", 7.6590, 45.0630, 1.0),
            ),
            {"funny_car": 2.0, "baba_car": 4.0, "pt_search_app": 1.0, "bad_diesel_vehicles": 2.0},
        ),
        Region(
            "Barcelona", 0.15, 2.05, 2.23, 41.28, 41.47,
            (
                _hs("Placa de Catalunya", 2.1700, 41.3870, 3.0),
                _hs("Sants", 2.1400, 41.3790, 2.0),
                _hs("Sagrada Familia", 2.1744, 41.4036, 1.5),
                _hs("El Prat Airport", 2.0785, 41.2974, 1.2, 0.006),
                _hs("Barceloneta", 2.1890, 41.3800, 1.3),
            ),
            {"funny_car": 3.0, "pt_search_app": 3.0},
        ),
        Region(
            "Vienna", 0.12, 16.18, 16.58, 48.12, 48.32,
            (
                _hs("Stephansplatz", 16.3725, 48.2085, 3.0),
                _hs("Hauptbahnhof", 16.3760, 48.1850, 2.0),
                _hs("Westbahnhof", 16.3380, 48.1966, 1.5),
                _hs("Prater", 16.3960, 48.2166, 1.0),
                _hs("Schoenbrunn", 16.3122, 48.1845, 0.8),
            ),
            {"cheap_mobile": 1.0, "pt_search_app": 4.0, "bad_diesel_vehicles": 1.0},
        ),
        Region(
            "Lisbon", 0.07, -9.23, -9.09, 38.69, 38.80,
            (
                _hs("Baixa", -9.1370, 38.7100, 3.0),
                _hs("Humberto Delgado Airport", -9.1350, 38.7740, 1.5, 0.005),
                _hs("Oriente", -9.0990, 38.7680, 1.2, 0.003),
                _hs("Belem", -9.2060, 38.6970, 1.0, 0.003),
                _hs("Marques de Pombal", -9.1500, 38.7250, 1.5),
            ),
            {"baba_car": 2.0, "pt_search_app": 3.0},
        ),
    )
)  # fmt: skip
