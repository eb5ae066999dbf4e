"""Units written after a number, one table for both languages (docs/frontend.md, "Normalization").

A unit is read only right after a number (``5kg``, ``5 kg``, ``25°C``), so its letters never reach the
loanword step, which would spell them (``5kg`` -> ケイジー). Squared forms (``㎏ ㎡``) and ``m² m³`` arrive here
as ``kg m2 m3`` (NFKC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    en: str  # English, one
    en_plural: str  # English, any other amount ("1.0 km" too)
    ja: str | None  # Japanese, "{}" standing for the number (時速{}キロ); None: not a unit in Japanese text
    attached: bool = False  # only written right after the number (5m, not "5 m": there "m" is a word or letter)


UNITS: dict[str, Unit] = {
    # length and area
    "km": Unit("kilometer", "kilometers", "{}キロメートル"),
    "cm": Unit("centimeter", "centimeters", "{}センチメートル"),
    "mm": Unit("millimeter", "millimeters", "{}ミリメートル"),
    "nm": Unit("nanometer", "nanometers", "{}ナノメートル"),
    "μm": Unit("micrometer", "micrometers", "{}マイクロメートル"),
    "m": Unit("meter", "meters", "{}メートル", attached=True),
    "ft": Unit("foot", "feet", "{}フィート"),
    "in": Unit("inch", "inches", "{}インチ", attached=True),  # 2in; "5 in a row" is a word
    "yd": Unit("yard", "yards", "{}ヤード"),
    "mi": Unit("mile", "miles", "{}マイル"),
    "km2": Unit("square kilometer", "square kilometers", "{}平方キロメートル"),
    "m2": Unit("square meter", "square meters", "{}平方メートル"),
    "cm2": Unit("square centimeter", "square centimeters", "{}平方センチメートル"),
    "ha": Unit("hectare", "hectares", "{}ヘクタール"),
    # mass
    "kg": Unit("kilogram", "kilograms", "{}キログラム"),
    "mg": Unit("milligram", "milligrams", "{}ミリグラム"),
    "μg": Unit("microgram", "micrograms", "{}マイクログラム"),
    "g": Unit("gram", "grams", "{}グラム", attached=True),
    "t": Unit("tonne", "tonnes", "{}トン", attached=True),
    "lbs": Unit("pound", "pounds", "{}ポンド"),
    "lb": Unit("pound", "pounds", "{}ポンド"),
    "oz": Unit("ounce", "ounces", "{}オンス"),
    # volume
    "m3": Unit("cubic meter", "cubic meters", "{}立方メートル"),
    "cm3": Unit("cubic centimeter", "cubic centimeters", "{}立方センチメートル"),
    "cc": Unit("cubic centimeter", "cubic centimeters", "{}シーシー"),
    "gal": Unit("gallon", "gallons", "{}ガロン"),
    "qt": Unit("quart", "quarts", "{}クォート"),
    "tsp": Unit("teaspoon", "teaspoons", "小さじ{}"),
    "tbsp": Unit("tablespoon", "tablespoons", "大さじ{}"),
    "ml": Unit("milliliter", "milliliters", "{}ミリリットル"),
    "mL": Unit("milliliter", "milliliters", "{}ミリリットル"),
    "dl": Unit("deciliter", "deciliters", "{}デシリットル"),
    "dL": Unit("deciliter", "deciliters", "{}デシリットル"),
    "L": Unit("liter", "liters", "{}リットル", attached=True),
    "l": Unit("liter", "liters", "{}リットル", attached=True),  # also ℓ
    # time and speed
    "hrs": Unit("hour", "hours", "{}時間"),
    "hr": Unit("hour", "hours", "{}時間"),
    "h": Unit("hour", "hours", "{}時間", attached=True),
    "mins": Unit("minute", "minutes", "{}分"),
    "min": Unit("minute", "minutes", "{}分"),
    "secs": Unit("second", "seconds", "{}秒"),
    "sec": Unit("second", "seconds", "{}秒"),
    "s": Unit("second", "seconds", None, attached=True),  # Japanese writes 秒; 5s there is a name (iPhone 5s)
    "ms": Unit("millisecond", "milliseconds", "{}ミリ秒"),
    "μs": Unit("microsecond", "microseconds", "{}マイクロ秒"),
    "km/h": Unit("kilometer per hour", "kilometers per hour", "時速{}キロ"),
    "m/s": Unit("meter per second", "meters per second", "秒速{}メートル"),
    "mph": Unit("mile per hour", "miles per hour", "時速{}マイル"),
    # data
    "TB": Unit("terabyte", "terabytes", "{}テラバイト"),
    "GB": Unit("gigabyte", "gigabytes", "{}ギガバイト"),
    "MB": Unit("megabyte", "megabytes", "{}メガバイト"),
    "KB": Unit("kilobyte", "kilobytes", "{}キロバイト"),
    "kB": Unit("kilobyte", "kilobytes", "{}キロバイト"),
    "Gbps": Unit("gigabit per second", "gigabits per second", "{}ギガビーピーエス"),
    "Mbps": Unit("megabit per second", "megabits per second", "{}メガビーピーエス"),
    # frequency, electricity, energy, sound
    "GHz": Unit("gigahertz", "gigahertz", "{}ギガヘルツ"),
    "MHz": Unit("megahertz", "megahertz", "{}メガヘルツ"),
    "kHz": Unit("kilohertz", "kilohertz", "{}キロヘルツ"),
    "Hz": Unit("hertz", "hertz", "{}ヘルツ"),
    "V": Unit("volt", "volts", "{}ボルト", attached=True),
    "W": Unit("watt", "watts", "{}ワット", attached=True),
    "Ω": Unit("ohm", "ohms", "{}オーム"),  # also Ω (U+2126)
    "kW": Unit("kilowatt", "kilowatts", "{}キロワット"),
    "kWh": Unit("kilowatt hour", "kilowatt hours", "{}キロワットアワー"),
    "mAh": Unit("milliamp hour", "milliamp hours", "{}ミリアンペアアワー"),
    "kcal": Unit("kilocalorie", "kilocalories", "{}キロカロリー"),
    "dB": Unit("decibel", "decibels", "{}デシベル"),
    "ppm": Unit("part per million", "parts per million", "{}ピーピーエム"),
    # temperature and angle (℃ ℉ arrive as °C °F)
    "°C": Unit("degree Celsius", "degrees Celsius", "{}度"),
    "°F": Unit("degree Fahrenheit", "degrees Fahrenheit", "華氏{}度"),
    "°": Unit("degree", "degrees", "{}度"),
}


def names(attached: bool, language: str) -> str:
    """A regex alternation of the unit names (``attached`` or not) that ``language`` reads, longest first."""
    chosen = [n for n, u in UNITS.items() if u.attached == attached and (language == "en" or u.ja is not None)]
    return "|".join(re.escape(n) for n in sorted(chosen, key=len, reverse=True))
