"""Q&A quality on real question data, beside plain BM25.

* Question matching (ATEC, Alipay customer-service pairs): is q2 the same question as q1? Plain BM25
  thresholds a symmetric BM25 score; liveloop's matcher adds character and content-word similarity
  in a small logistic model, and with embeddings the e5 cosine as one more feature. Thresholds are
  tuned on the training pairs; F1 on held-out pairs.
* Answer retrieval (Amazon appliance QA): rank the answers of the same product for each question;
  Recall@1 and MRR on held-out products, plain BM25 beside the learned blend (lexical, + embeddings).

Embedding a text costs tens of milliseconds of CPU, so the embedding figures are measured on a seeded
sample (``limit`` pairs / ``products``), and every method is reported on that same sample.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_recall_curve
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from liveloop.core.config import Settings
from liveloop.live import corpora
from liveloop.live.embeddings import PASSAGE, QUERY, Embedder
from liveloop.live.qa import THRESHOLD, confidence, lexical_confidence
from liveloop.live.retrieval import BM25Matrix, CharCosine, content_tokens


def _best_threshold(y: np.ndarray, score: np.ndarray) -> float:
    p, r, t = precision_recall_curve(y, score)
    f = 2 * p * r / np.maximum(p + r, 1e-12)
    return float(t[int(np.argmax(f[:-1]))]) if len(t) else 0.5


def pair_features(
    bm25: BM25Matrix, content: BM25Matrix, chars: CharCosine, a: list[str], b: list[str]
) -> np.ndarray:
    ab, ba = bm25.pair_scores(a, b), bm25.pair_scores(b, a)
    aa, bb = bm25.pair_scores(a, a), bm25.pair_scores(b, b)
    cab = content.pair_scores(a, b) + content.pair_scores(b, a)
    cos = chars.pair_scores(a, b)
    la, lb = np.array([len(x) for x in a], float), np.array([len(x) for x in b], float)
    return np.column_stack(
        [
            (ab + ba) / 2,
            (ab + ba) / np.maximum(aa + bb, 1e-6),
            cab,
            cos,
            np.minimum(la, lb) / np.maximum(np.maximum(la, lb), 1),
        ]
    )


def atec_matching(
    settings: Settings | None = None,
    *,
    limit: int | None = None,
    seed: int = 0,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    pairs = corpora.atec_pairs(settings)
    if limit:
        pairs = pairs.sample(min(limit, len(pairs)), random_state=seed)
    train, test = train_test_split(pairs, test_size=0.3, random_state=seed, stratify=pairs["label"])
    q_train = pd.concat([train["question_1"], train["question_2"]]).astype(str).tolist()
    bm25, content = BM25Matrix().fit(q_train), BM25Matrix(content_tokens).fit(q_train)
    chars = CharCosine().fit(q_train)

    def feats(df: pd.DataFrame) -> np.ndarray:
        return pair_features(
            bm25, content, chars, df["question_1"].astype(str).tolist(), df["question_2"].astype(str).tolist()
        )

    Xtr, Xte = feats(train), feats(test)
    ytr, yte = train["label"].to_numpy(), test["label"].to_numpy()
    content_chars = CharCosine().fit([" ".join(content_tokens(t)) for t in q_train])

    def answerer(df: pd.DataFrame, emb: np.ndarray | None) -> np.ndarray:
        """The live answerer's own confidence (:func:`~liveloop.live.qa.confidence`), q2 as the entry."""
        a, b = df["question_1"].astype(str).tolist(), df["question_2"].astype(str).tolist()
        shared = content.pair_scores(a, b) > 0
        ca, cb = ([" ".join(content_tokens(t)) for t in side] for side in (a, b))
        bm = shared.astype(float)  # a one-entry knowledge base: relative BM25 is 1 wherever it is > 0
        return confidence(lexical_confidence(bm, content_chars.pair_scores(ca, cb)), emb)

    def at_threshold(te: np.ndarray) -> float:
        return round(float(f1_score(yte, te >= THRESHOLD)), 4)

    def learned_f1(tr: np.ndarray, te: np.ndarray) -> float:
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(tr, ytr)
        t = _best_threshold(ytr, clf.predict_proba(tr)[:, 1])
        return round(float(f1_score(yte, clf.predict_proba(te)[:, 1] >= t)), 4)

    def threshold_f1(tr: np.ndarray, te: np.ndarray) -> float:
        return round(float(f1_score(yte, te >= _best_threshold(ytr, tr))), 4)

    out: dict[str, Any] = {
        "pairs_train": len(train),
        "pairs_test": len(test),
        "positive_rate": round(float(yte.mean()), 4),
        "plain_bm25_f1": threshold_f1(Xtr[:, 0], Xte[:, 0]),
        "liveloop_f1": learned_f1(Xtr, Xte),
        "answerer_f1_at_threshold": at_threshold(answerer(test, None)),
    }
    if embedder is not None:

        def cosine(df: pd.DataFrame) -> np.ndarray:
            return embedder.similarity(
                df["question_1"].astype(str).tolist(), df["question_2"].astype(str).tolist()
            )

        etr, ete = cosine(train), cosine(test)
        out["embeddings_only_f1"] = threshold_f1(etr, ete)
        out["liveloop_embeddings_f1"] = learned_f1(np.column_stack([Xtr, etr]), np.column_stack([Xte, ete]))
        out["answerer_embeddings_f1_at_threshold"] = at_threshold(answerer(test, ete))
        out["embedding_cosine_median"] = {
            "same_question": round(float(np.median(etr[ytr == 1])), 4),
            "different": round(float(np.median(etr[ytr == 0])), 4),
        }
        out["embedding_model"] = embedder.name
    return out


def amazon_retrieval(
    settings: Settings | None = None,
    *,
    min_qa: int = 5,
    seed: int = 0,
    products: int | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Rank each question's candidate answers (those of its product); ``products`` samples products."""
    qa = corpora.amazon_qa(settings)
    qa = qa[qa.groupby("asin")["asin"].transform("size") >= min_qa]
    asins = np.array(sorted(qa["asin"].unique()))
    rng = np.random.default_rng(seed)
    if products and products < len(asins):
        asins = np.sort(rng.choice(asins, products, replace=False))
        qa = qa[qa["asin"].isin(set(asins))]
    qa = qa.reset_index(drop=True)
    test_asins = set(rng.choice(asins, len(asins) // 2, replace=False))
    bm25 = BM25Matrix().fit(qa["answer"].astype(str).tolist())
    chars = CharCosine().fit(qa["question"].astype(str).tolist() + qa["answer"].astype(str).tolist())
    rows: list[tuple[str, int, int, int]] = []  # (asin, question index, answer index, is_true)
    for _, group in qa.groupby("asin"):
        idx = group.index.to_numpy()
        for i in idx:
            rows.extend((group["asin"].iloc[0], i, j, int(i == j)) for j in idx)
    pairs = pd.DataFrame(rows, columns=["asin", "q", "a", "y"])
    qs, ans = qa["question"].astype(str).to_numpy(), qa["answer"].astype(str).to_numpy()
    bm = bm25.pair_scores(qs[pairs["q"]].tolist(), ans[pairs["a"]].tolist())
    cos = chars.pair_scores(qs[pairs["q"]].tolist(), ans[pairs["a"]].tolist())
    bm_max = pd.Series(bm).groupby(pairs["q"]).transform("max").to_numpy()
    X = np.column_stack([bm, bm / np.maximum(bm_max, 1e-6), cos])
    is_test = pairs["asin"].isin(test_asins).to_numpy()

    def learned(features: np.ndarray) -> np.ndarray:
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, class_weight="balanced"))
        clf.fit(features[~is_test], pairs["y"][~is_test])
        scores: np.ndarray = clf.decision_function(features)
        return scores

    def ranking(score: np.ndarray) -> dict[str, float]:
        df = pairs[is_test].assign(s=score[is_test])
        df["rank"] = df.groupby("q")["s"].rank(ascending=False, method="first")
        true_rank = df.loc[df["y"] == 1, "rank"].to_numpy()
        return {
            "recall_at_1": round(float(np.mean(true_rank == 1)), 4),
            "mrr": round(float(np.mean(1 / true_rank)), 4),
        }

    out: dict[str, Any] = {
        "products": len(asins),
        "questions_test": int(pairs.loc[is_test, "q"].nunique()),
        "candidates_per_question": round(float(pairs[is_test].groupby("q").size().mean()), 1),
        "plain_bm25": ranking(bm),
        "liveloop": ranking(learned(X)),
    }
    if embedder is not None:
        q_emb, a_emb = embedder.embed(qs.tolist(), QUERY), embedder.embed(ans.tolist(), PASSAGE)
        emb = np.einsum("ij,ij->i", q_emb[pairs["q"]], a_emb[pairs["a"]])
        emb_max = pd.Series(emb).groupby(pairs["q"]).transform("max").to_numpy()
        out["embeddings_only"] = ranking(emb)
        out["liveloop_embeddings"] = ranking(learned(np.column_stack([X, emb, emb - emb_max])))
        out["embedding_model"] = embedder.name
    return out


def qa_report(
    settings: Settings | None = None,
    *,
    atec_limit: int | None = None,
    amazon_products: int | None = None,
    embedder: Embedder | None = None,
    embedding_pairs: int = 5000,
    embedding_products: int = 200,
) -> dict[str, Any]:
    """Lexical figures on the whole data (or the given samples); with an embedder, every method again on
    a smaller seeded sample, the e5 cosine added."""
    report: dict[str, Any] = {
        "atec_matching": atec_matching(settings, limit=atec_limit),
        "amazon_answer_retrieval": amazon_retrieval(settings, products=amazon_products),
    }
    if embedder is not None:
        report["with_embeddings"] = {
            "atec_matching": atec_matching(settings, limit=embedding_pairs, embedder=embedder),
            "amazon_answer_retrieval": amazon_retrieval(
                settings, products=embedding_products, embedder=embedder
            ),
        }
    return report
