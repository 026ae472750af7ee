"""The reserving baselines against chainladder-python's own results on its RAA sample (Mack 1993's triangle).

RAA's accident years 1981-1990 become ten pools (one per origin, yearly periods); each pool's projection at age 10
is then the origin's ultimate, which chainladder computes on the triangle directly."""
import warnings

import chainladder as cl
import numpy as np
import pandas as pd
import pytest

from forecasting.data.dataset import Dataset, DatasetMeta
from forecasting.data.periods import month_end, month_index
from forecasting.models.baselines import BootstrapODP, BornhuetterFerguson, CapeCod, MackChainLadder
from forecasting.models.baselines.triangle import fit_pattern, origin_triangle

OPB = 1_000_000.0  # far above any RAA amount: no path is capped at a rate of 1
PREMIUM = np.linspace(30_000, 48_000, 10)  # an exposure per origin, for Cape Cod
PRIOR = np.linspace(0.15, 0.25, 10)  # the a-priori recovery rate per origin, for BF


@pytest.fixture(scope="module")
def raa():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl.load_sample("raa")


@pytest.fixture(scope="module")
def raa_dataset(raa) -> Dataset:
    cum = pd.DataFrame(np.asarray(raa.values, float)[0, 0], index=range(1981, 1991), columns=range(1, 11))
    increments = cum.diff(axis=1).fillna(cum[[1]].reindex(columns=cum.columns))
    long = increments.stack().rename("gross_collections").reset_index()
    long.columns = ["vintage", "period", "gross_collections"]
    long["deal_id"] = "RAA-" + long["vintage"].astype(str)
    deals = pd.DataFrame({"deal_id": [f"RAA-{y}" for y in cum.index], "originator": "RAA", "vintage": cum.index,
                          "cutoff_date": pd.to_datetime([f"{y - 1}-12-31" for y in cum.index]), "opb": OPB,
                          "n_borrowers": 1000, "avg_balance": OPB / 1000, "wa_delinquency_months": 0.0,
                          "est_gross_recovery": PRIOR * PREMIUM / OPB})
    meta = DatasetMeta(name="raa", as_of=pd.Timestamp("1990-12-31").date(), period_months=12, currency="USD")
    return Dataset(meta, deals, long[["deal_id", "period", "gross_collections"]])


def ultimate(fc) -> np.ndarray:
    return fc.mean[:, 9] * OPB


def test_the_triangle_is_raa(raa, raa_dataset):
    tri, _ = origin_triangle(raa_dataset)
    np.testing.assert_allclose(np.nan_to_num(np.asarray(tri.values, float)), np.nan_to_num(np.asarray(raa.values, float)))
    pattern = fit_pattern(tri, tail=False)
    np.testing.assert_allclose(pattern.ldf, cl.Development().fit(raa).ldf_.values.ravel())


def test_tail_is_chainladders_exponential_tail(raa, raa_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tail = cl.TailCurve(curve="exponential").fit(cl.Development().fit_transform(raa))
    pattern = fit_pattern(origin_triangle(raa_dataset)[0], tail=True)
    assert np.exp(pattern.log_cdf(10)[-1]) == pytest.approx(tail.tail_.values.ravel()[0], rel=1e-9)


def test_mack_matches_chainladder(raa, raa_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mack = cl.MackChainladder().fit(raa)
    model = MackChainLadder(tail=False).fit(raa_dataset)
    fc = model.predict(raa_dataset, 10, n_draws=20_000)
    np.testing.assert_allclose(ultimate(fc), mack.ultimate_.values.ravel(), rtol=1e-9)
    h = raa_dataset.history
    latest = h.latest_cum_rate.to_numpy() * OPB
    _, proc, param = model.projection(model.states_["(all pools)"], latest, h.observed_periods.to_numpy(), 10)
    np.testing.assert_allclose(np.sqrt(proc + param)[:, -1], np.nan_to_num(mack.mack_std_err_.values[0, 0, :, -1]),
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(np.sqrt(param)[:, -1], np.nan_to_num(mack.parameter_risk_.values[0, 0, :, -1]), rtol=1e-9,
                               atol=1e-6)
    # the paths: their sd at ultimate is Mack's standard error (lognormal with that variance), their mean the ultimate
    sd = fc.draws[:, :, 9].std(axis=0) * OPB
    unpaid = np.nan_to_num(mack.mack_std_err_.values[0, 0, :, -1]) > 0
    np.testing.assert_allclose(sd[unpaid], mack.mack_std_err_.values[0, 0, unpaid, -1], rtol=0.05)
    np.testing.assert_allclose(fc.draws[:, :, 9].mean(axis=0) * OPB, ultimate(fc), rtol=0.01)


def test_cape_cod_matches_chainladder(raa, raa_dataset):
    exposure = raa.latest_diagonal * 0 + PREMIUM[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc = cl.CapeCod().fit(raa, sample_weight=exposure)
    deals = raa_dataset.deals.assign(opb=PREMIUM / PREMIUM.max() * OPB)  # opb is Cape Cod's exposure
    data = Dataset(raa_dataset.meta, deals, raa_dataset.collections)
    fc = CapeCod(tail=False, n_sims=50).fit(data).predict(data, 10, n_draws=50)
    scale = OPB / PREMIUM.max()  # ELR per unit of opb -> per unit of premium
    np.testing.assert_allclose(fc.mean[:, 9] * deals["opb"].to_numpy(), cc.ultimate_.values.ravel(), rtol=1e-9)
    assert CapeCod(tail=False, n_sims=50).fit(data).states_["(all pools)"]["level"][0] * scale == \
        pytest.approx(cc.apriori_.values.ravel()[0], rel=1e-9)


def test_bornhuetter_ferguson_matches_chainladder(raa, raa_dataset):
    prior = raa.latest_diagonal * 0 + (PRIOR * PREMIUM)[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bf = cl.BornhuetterFerguson(apriori=1.0).fit(raa, sample_weight=prior)
    fc = BornhuetterFerguson(tail=False, n_sims=50).fit(raa_dataset).predict(raa_dataset, 10, n_draws=50)
    np.testing.assert_allclose(ultimate(fc), bf.ultimate_.values.ravel(), rtol=1e-9)


def test_bootstrap_odp_matches_chainladders_bootstrap(raa, raa_dataset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sims = cl.BootstrapODPSample(n_sims=500, random_state=0).fit(raa).resampled_triangles_
        boot = np.nan_to_num(cl.Chainladder().fit(sims).ibnr_.values[:, 0, :, 0])  # (sims, origins)
        point = cl.Chainladder().fit(raa).ultimate_.values.ravel()
    fc = BootstrapODP(tail=False).fit(raa_dataset).predict(raa_dataset, 10, n_draws=4000)
    np.testing.assert_allclose(ultimate(fc), point, rtol=1e-9)
    ours = fc.draws[:, :, 9] * OPB - raa_dataset.history.latest_cum_rate.to_numpy() * OPB  # the unpaid
    # our paths are chainladder's bootstrap reserves plus ODP process noise: the same mean, a wider spread, where
    # chainladder's pseudo reserves are rarely negative (collections never fall in ours)
    clear = (boot < 0).mean(axis=0) < 0.05
    assert clear.sum() >= 4
    se = ours.std(axis=0) / np.sqrt(len(ours)) + boot.std(axis=0) / np.sqrt(len(boot))
    assert (np.abs(ours.mean(axis=0) - boot.mean(axis=0))[clear] <= 4 * se[clear] + 1e-6).all()
    assert (ours.std(axis=0)[clear] >= boot.std(axis=0)[clear]).all()
    total = ours.sum(axis=1)  # draw k of every pool shares one bootstrap triangle: sums are draws of the sum
    assert total.std() >= boot.sum(axis=1).std()


def test_by_originator_fits_each_group_and_pools_the_thin_ones(raa_dataset):
    deals = raa_dataset.deals.assign(originator=["A"] * 9 + ["B"])
    data = Dataset(raa_dataset.meta, deals, raa_dataset.collections)
    model = MackChainLadder(by="originator", tail=False).fit(data)
    assert set(model.states_) == {"(all pools)", "A"}
    assert model.diagnostics_.counts["groups_on_pooled_pattern"] == 1
    fc = model.predict(data, 10, n_draws=10)
    assert np.isfinite(fc.mean).all() and (np.diff(fc.draws, axis=-1) >= 0).all()


def test_a_new_pool_starts_from_the_pooled_first_period(raa_dataset):
    new = raa_dataset.subset(raa_dataset.deal_ids[:2]).without_history()
    for cls in (MackChainLadder, BootstrapODP, CapeCod, BornhuetterFerguson):
        fc = cls(n_sims=50).fit(raa_dataset).predict(new, 10, n_draws=200) if cls is not MackChainLadder else \
            cls().fit(raa_dataset).predict(new, 10, n_draws=200)
        assert (fc.mean[:, -1] > 0).all() and (fc.observed_periods == 0).all()
        assert (np.diff(fc.draws, axis=-1) >= 0).all() and (fc.draws <= 1).all()
        assert fc.quantile(0.9)[0, -1] > fc.quantile(0.1)[0, -1]


def test_an_origin_that_collects_nothing_at_first_is_projected_from_its_age(raa, raa_dataset):
    """chainladder leaves a zero cumulative cell empty: an origin with nothing in its first years is still of its
    age (Cape Cod's exposure x share collected counts it; the chain ladder projects it), not NaN."""
    slow = raa_dataset.collections.assign(gross_collections=raa_dataset.collections["gross_collections"].where(
        ~((raa_dataset.collections["deal_id"] == "RAA-1985") & (raa_dataset.collections["period"] <= 2)), 0.0))
    deals = raa_dataset.deals.assign(opb=PREMIUM / PREMIUM.max() * OPB)
    data = Dataset(raa_dataset.meta, deals, slow)
    tri, _ = origin_triangle(data)
    exposure = tri.latest_diagonal * 0 + PREMIUM[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc = cl.CapeCod().fit(tri, sample_weight=exposure)
    assert np.isnan(np.asarray(tri.values, float)[0, 0, 4, :2]).all()  # the empty cells the ages were counted from
    for cls in (CapeCod, BootstrapODP, BornhuetterFerguson):
        fc = cls(tail=False, n_sims=50).fit(data).predict(data, 10, n_draws=50)
        assert np.isfinite(fc.mean).all() and np.isfinite(fc.draws).all(), cls.__name__
    fc = CapeCod(tail=False, n_sims=50).fit(data).predict(data, 10, n_draws=50)
    np.testing.assert_allclose(fc.mean[:, 9] * deals["opb"].to_numpy(), cc.ultimate_.values.ravel(), rtol=1e-9)


def quarterly(raa_dataset, split: str = "RAA-1985") -> Dataset:
    """RAA's origins as quarterly pools cut off in different months of their quarters (origin i seen for 10 - i
    quarters by 1990-12-31, cut off 0, 1 or 2 months earlier than a whole number of quarters), one origin split into
    two pools of one age cut off a month apart."""
    deals = raa_dataset.deals.copy()
    age = 1991 - deals["vintage"].to_numpy()
    lag = np.arange(len(deals)) % 3
    deals["cutoff_date"] = month_end(month_index(pd.DatetimeIndex(["1990-12-31"]))[0] - 3 * age - lag)
    collections = raa_dataset.collections.copy()
    twin = deals[deals["deal_id"] == split].assign(deal_id=split + "b", opb=OPB / 2)
    twin["cutoff_date"] = twin["cutoff_date"] - pd.offsets.MonthEnd(1)
    half = collections[collections["deal_id"] == split].assign(deal_id=split + "b")
    half["gross_collections"] /= 2
    collections.loc[collections["deal_id"] == split, "gross_collections"] /= 2
    deals.loc[deals["deal_id"] == split, "opb"] = OPB / 2
    meta = DatasetMeta(name="raa-q", as_of=pd.Timestamp("1990-12-31").date(), period_months=3, currency="USD")
    return Dataset(meta, pd.concat([deals, twin], ignore_index=True), pd.concat([collections, half], ignore_index=True))


def test_quarterly_pools_cut_off_in_different_months_make_the_triangle_of_their_ages(raa, raa_dataset):
    """A pool's row is its age, not its cut-off month: the quarterly pools (no two origins alike in their month
    within the quarter, and one origin split into two pools a month apart) give RAA's triangle, and every baseline
    projects each pool as the yearly dataset's, the split pools by halves."""
    data = quarterly(raa_dataset)
    tri, _ = origin_triangle(data)
    assert tri.development_grain == "Q" and tri.origin_grain == "Q"
    np.testing.assert_allclose(np.nan_to_num(np.asarray(tri.values, float)), np.nan_to_num(np.asarray(raa.values, float)))
    for model in (MackChainLadder(), CapeCod(n_sims=50), BootstrapODP(n_sims=50)):
        yearly = model.fit(raa_dataset).predict(raa_dataset, 12, n_draws=50)
        ours = model.fit(data).predict(data, 12, n_draws=50)
        amounts = pd.DataFrame(ours.mean * data.deals["opb"].to_numpy()[:, None], index=data.deals["deal_id"])
        amounts = amounts.rename(index=lambda d: d.removesuffix("b")).groupby(level=0).sum()
        np.testing.assert_allclose(amounts.loc[raa_dataset.deal_ids].to_numpy(), yearly.mean * OPB, rtol=1e-9,
                                   err_msg=type(model).__name__)
