"""Writes the demo dataset: short customer-support messages in five deliberately imbalanced classes, and
stopwords_en.txt (scikit-learn's English stop words), so the demo needs no nltk data.

python examples/make_support_tickets.py   (seeded; the committed files are its output)
"""

import json
import random
from pathlib import Path

TEMPLATES = {
    "billing": [
        "why was i charged twice for my {plan} plan", "my invoice for {month} shows the wrong amount",
        "can you explain the extra fee on my {month} bill", "i was billed for the {plan} plan but i am on basic",
        "the payment for {month} went through twice", "how do i update the card you charge every month",
        "my bank statement shows a charge i do not recognise", "please send me a copy of the {month} invoice",
        "the price of the {plan} plan went up without notice", "why is there a late payment fee on my account",
    ],
    "shipping": [
        "my order has not arrived after {days} days", "the tracking number for my parcel does not work",
        "where is my package it was due on {weekday}", "the courier left my parcel at the wrong address",
        "can i change the delivery address for my order", "my box arrived damaged and half empty",
        "delivery was promised for {weekday} but nothing came", "how long does shipping to {city} take",
    ],
    "technical": [
        "the app crashes every time i open the settings", "i cannot log in the page just keeps loading",
        "the export to {format} button does nothing", "sync stopped working after the last update",
        "error {code} appears when i upload a file", "the website is very slow since {weekday}",
    ],
    "account": [
        "how do i change the email on my account", "please delete my account and all my data",
        "i want to add a second user to the {plan} plan", "how can i reset my password",
        "can i merge my two accounts into one",
    ],
    "refund": [
        "i would like a refund for my {plan} subscription", "please refund the order i cancelled on {weekday}",
        "i returned the item {days} days ago and still have no refund", "how do i get my money back",
    ],
}
SLOTS = {
    "plan": ["premium", "family", "business", "pro", "student"],
    "month": ["january", "march", "june", "september", "november"],
    "days": ["five", "ten", "twelve", "three", "fourteen"],
    "weekday": ["monday", "tuesday", "friday", "saturday"],
    "city": ["lisbon", "berlin", "dublin", "madrid", "oslo"],
    "format": ["pdf", "csv", "excel"],
    "code": ["500", "403", "e12", "404"],
}
OPENERS = ["", "", "hi ", "hello ", "hey there ", "good morning "]
CLOSERS = ["", "", "", " thanks", " please help", " this is urgent", " any idea"]
SIZES = {"billing": 160, "shipping": 90, "technical": 45, "account": 22, "refund": 11}  # train; val/test per class


def message(rng: random.Random, label: str) -> str:
    text = rng.choice(TEMPLATES[label])
    for slot, values in SLOTS.items():
        text = text.replace("{" + slot + "}", rng.choice(values))
    return (rng.choice(OPENERS) + text + rng.choice(CLOSERS)).strip()


def main():
    rng = random.Random(0)
    out = Path(__file__).parent / "support_tickets"
    out.mkdir(exist_ok=True)
    splits = {"train": SIZES, "validation": {k: max(8, v // 5) for k, v in SIZES.items()},
              "test": {k: max(10, v // 4) for k, v in SIZES.items()}}
    for split, sizes in splits.items():
        rows = [{"text": message(rng, label), "label": label} for label, n in sizes.items() for _ in range(n)]
        rng.shuffle(rows)
        (out / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    (Path(__file__).parent / "stopwords_en.txt").write_text("\n".join(sorted(ENGLISH_STOP_WORDS)) + "\n")


if __name__ == "__main__":
    main()
