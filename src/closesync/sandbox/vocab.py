"""Word lists and small formatters the record builders draw realistic values from."""

from __future__ import annotations

from closesync.sandbox.rand import Draw

COMPANY_A = ["Blue", "Quantum", "Hyper", "Golden", "Nordic", "Silver", "Rapid", "Bright", "Summit", "Cedar",
             "Crimson", "Atlas", "Nova", "Pioneer", "Harbor", "Velvet", "Iron", "Lunar", "Maple", "Zenith"]
COMPANY_B = ["Logistics", "Bakery", "Analytics", "Robotics", "Dental", "Media", "Solar", "Foods", "Labs",
             "Consulting", "Motors", "Textiles", "Software", "Realty", "Fitness", "Brewing"]
COMPANY_C = ["Inc.", "LLC", "GmbH", "Ltd", "S.A.", "AB", "Co.", "", "K.K.", "SARL"]
SPECIAL_LEADS = {
    # Escaping must be tested somewhere: the web app renders these.
    2: "Evil <script>alert(1)</script> & Sons",
    3: "Ünïcødé Straße Café — 東京支店 🚀",
    5: 'Quote "Corp" \'n\' Backslash \\ Ltd',
}
PERSON_FIRST = ["Tobias", "Lindsay", "Maeby", "George", "Lucille", "Buster", "Ann", "Oscar", "Kitty", "Stan",
                "Zoë", "José", "Françoise", "Øystein", "Yuki", "Aarav", "Chidi", "Eleanor", "Tahani", "Jason"]
PERSON_LAST = ["Fünke", "Bluth", "Sitwell", "Veal", "Sanchez", "Müller", "Kowalski", "Smith", "Nakamura",
               "Patel", "Anagonye", "Shellstrop", "Al-Jamil", "Mendoza", "O'Neil", "Dubois"]
TITLES = ["CEO", "CTO", "VP Sales", "Office Manager", "Head of Ops", "Buyer", "Founder", None, ""]
CITIES = [("San Francisco", "CA", "US", "94103"), ("Berlin", "BE", "DE", "10115"), ("Paris", None, "FR", "75002"),
          ("São Paulo", "SP", "BR", "01310-100"), ("Tokyo", None, "JP", "100-0005"), ("Austin", "TX", "US", "73301")]
TASK_TYPES = ["lead", "lead", "lead", "incoming_email", "email_followup", "missed_call", "voicemail",
              "opportunity_due", "answered_detached_call", "incoming_sms", "outgoing_call"]
NOTES = ["Call went well, wants pricing.", "Left voicemail.", "Asked to call back next quarter.",
         "Interested in the enterprise plan — needs SSO.", "Gatekeeper; try the CTO directly.",
         "Sent deck. <b>Bold</b> claim: 10× ROI!", "Prefers e-mail; timezone UTC+9 (東京)."]
SUBJECTS = ["Quick question", "Following up on our call", "Pricing for {company}", "Re: demo next week",
            "Welcome to the trial!", "Contract draft", "Intro: {company} <> us"]


def random_phone(d: Draw) -> tuple[str, str]:
    area, mid, end = d.between(201, 989), d.between(200, 999), d.between(0, 9999)
    return f"+1{area}{mid}{end:04d}", f"+1 {area}-{mid}-{end:04d}"


def money(cents: int, period: str) -> str:
    text = f"${cents // 100:,}"
    return text + {"one_time": "", "monthly": " monthly", "annual": " annually"}[period]


_NO_DECOMPOSITION = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L",
                                   "đ": "d", "'": ""})


def ascii_slug(text: str) -> str:
    """`Søren O'Brien` -> `soren obrien`: e-mail local parts from unicode names."""
    import unicodedata

    flat = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSITION))
    return flat.encode("ascii", "ignore").decode().lower()
