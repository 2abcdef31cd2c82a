"""Personal identity numbers as the readers' tests plant them: every form the detector
(``ingest.pii``) must find."""

FORMS = [
    "121212-1212",
    "121212+1212",
    "121212 1212",
    "121212\u20131212",  # en dash
    "121212\u20141212",  # em dash
    "1212121212",
    "19121212-1212",
    "19121212 1212",
    "191212121212",
    "701063-2391",  # samordningsnummer, 1970-10-03
    "197010632391",
]
BORN_2005_WITHOUT_ZERO = "501011233"  # 0501011233 as a number cell: its leading zero dropped
