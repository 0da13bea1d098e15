"""Holidays and e-commerce promotion days, to flag on daily trends (results spanning them may not generalize).

Public holidays come from the `holidays` package (China, in Chinese or English); the shopping
festivals are fixed calendar days that package does not know.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import holidays

# (month, day): (zh, en). Fixed-date festivals of Chinese e-commerce.
PROMOTION_DAYS: dict[tuple[int, int], tuple[str, str]] = {
    (3, 8): ("三八女王节", "Women's Day sale (3.8)"),
    (5, 20): ("520", "520 sale"),
    (6, 18): ("618", "618 festival"),
    (9, 9): ("99大促", "9.9 sale"),
    (11, 11): ("双11", "Double 11"),
    (12, 12): ("双12", "Double 12"),
}


def flag_days(days: Iterable[dt.date], lang: str = "zh") -> dict[dt.date, str]:
    """Map each given day that is a Chinese public holiday or a promotion day to its name."""
    days = sorted(set(days))
    if not days:
        return {}
    years = range(days[0].year, days[-1].year + 1)
    language = "zh_CN" if lang == "zh" else "en_US"
    try:
        cn = holidays.China(years=years, language=language)
    except (TypeError, NotImplementedError):  # an older package without translations
        cn = holidays.China(years=years)
    out: dict[dt.date, str] = {}
    for day in days:
        names = []
        if day in cn:
            names.append(str(cn.get(day)))
        promo = PROMOTION_DAYS.get((day.month, day.day))
        if promo:
            names.append(promo[0] if lang == "zh" else promo[1])
        if names:
            out[day] = " / ".join(names)
    return out
