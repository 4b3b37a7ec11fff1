"""MovieLens 100K: u.user → users, u.item → products (genres), u.data → ``rate`` events.

Ids are prefixed ``ml:``. Importing u.data also imports u.user and u.item beside it, users first.
"""

from __future__ import annotations

from collections.abc import Sequence

from liveloop.ingest.adapters.base import Adapter, Feed
from liveloop.ingest.schema import SPECS
from liveloop.ingest.validate import Target, lit

GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_ITEM_COLS = (
    "movie_id",
    "title",
    "release_date",
    "video_release_date",
    "imdb_url",
    *(f"g{i}" for i in range(19)),
)
_AGE_BAND = (
    "CASE WHEN TRY_CAST(age AS INTEGER) < 18 THEN '<18' WHEN TRY_CAST(age AS INTEGER) < 25 THEN '18-24' "
    "WHEN TRY_CAST(age AS INTEGER) < 35 THEN '25-34' WHEN TRY_CAST(age AS INTEGER) < 45 THEN '35-44' "
    "WHEN TRY_CAST(age AS INTEGER) < 55 THEN '45-54' WHEN TRY_CAST(age AS INTEGER) IS NOT NULL THEN '55+' END"
)


def _users(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    return (
        Target(
            SPECS["users"],
            {
                "user_id": "'ml:' || user_id",
                "gender": "gender",
                "age_band": _AGE_BAND,
                "props": "json_object('age', TRY_CAST(age AS INTEGER), 'occupation', occupation, 'zip', zip)",
            },
        ),
    )


def _items(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    genres = (
        "concat_ws('|', "
        + ", ".join(f"CASE WHEN g{i} = '1' THEN {lit(g)} END" for i, g in enumerate(GENRES))
        + ")"
    )
    return (
        Target(
            SPECS["products"],
            {
                "product_id": "'ml:' || movie_id",
                "title": "title",
                "category": f"NULLIF(split_part({genres}, '|', 1), '')",
                "attributes": f"json_object('genres', string_split(NULLIF({genres}, ''), '|'), "
                "'release_date', NULLIF(release_date, ''), 'imdb_url', NULLIF(imdb_url, ''))",
            },
        ),
    )


def _ratings(columns: Sequence[str], _table: str | None) -> tuple[Target, ...]:
    return (
        Target(
            SPECS["events"],
            {
                "event_id": "'ml_' || left(md5(concat_ws(chr(31), user_id, item_id, ts)), 24)",
                "ts": "ts",
                "user_id": "'ml:' || user_id",
                "type": "'rate'",
                "product_id": "'ml:' || item_id",
                "props": "json_object('rating', TRY_CAST(rating AS INTEGER))",
            },
            extra={"x_rating": "TRY_CAST(rating AS INTEGER)"},
            window=("1997-09-01 00:00:00+00", "1998-05-01 00:00:00+00"),
            checks=(
                (
                    "x_rating IS NULL OR x_rating NOT BETWEEN 1 AND 5",
                    "'bad_rating: rating must be an integer from 1 to 5'",
                    "props",
                ),
            ),
        ),
    )


MOVIELENS = Adapter(
    name="movielens100k",
    description="MovieLens 100K: u.user, u.item (latin-1), u.data (tab-separated ratings, unix seconds)",
    dataset="movielens_100k",
    bundle=True,
    feeds=(
        Feed(
            "u.user",
            "csv",
            _users,
            columns=("user_id", "age", "gender", "occupation", "zip"),
            delimiter="|",
            match=("u.user",),
        ),
        Feed(
            "u.item", "csv", _items, columns=_ITEM_COLS, delimiter="|", encoding="latin-1", match=("u.item",)
        ),
        Feed("u.data", "tsv", _ratings, columns=("user_id", "item_id", "rating", "ts"), match=("u.data",)),
    ),
)
