"""
Decode a NiMARE meta-analysis in the same script
================================================

NiMARE users pass results around, not files. Here we run a coordinate-based
meta-analysis with NiMARE on the n-back vs flanker studyset that ships with
NiMARE (MKDADensity, then FDR correction) and hand the ``MetaResult`` straight
to the pretrained :class:`~brainlm_decode.CLIPDecoder`. The decoder picks the
corrected z map, decodes it into Cognitive Atlas tasks, concepts and domains,
and writes in each table's ``attrs`` what was decoded (estimator, corrector,
map name). Everything runs offline in a few seconds.
"""

# %%
# The n-back and flanker analyses of NiMARE's studyset
# ----------------------------------------------------
import importlib.resources

from nimare.studyset import Studyset

resources = importlib.resources.files("nimare") / "resources"
studyset = Studyset(str(resources / "nback_vs_flanker_studyset_2026-07"))
nback = studyset.slice(
    list(studyset.get_analyses_by_annotations("comparison_task", "n-back"))
)
flanker = studyset.slice(
    list(studyset.get_analyses_by_annotations("comparison_task", "flanker"))
)
print(nback, flanker, sep="\n")

# %%
# MKDA density meta-analyses, FDR-corrected
# -----------------------------------------
# ``FWECorrector(method="montecarlo", n_iters=...)`` works the same way (the
# decoder then takes the cluster-size FWE-corrected z map); FDR keeps the example
# fast.
from nimare.correct import FDRCorrector
from nimare.meta.cbma import MKDADensity

corrector = FDRCorrector(method="indep", alpha=0.05)
nback_result = corrector.transform(MKDADensity().fit(nback))
flanker_result = corrector.transform(MKDADensity().fit(flanker))
print(sorted(nback_result.maps))

# %%
# Decode the MetaResult itself
# ----------------------------
from brainlm_decode import CLIPDecoder

decoder = CLIPDecoder.from_pretrained()
nback_tables = decoder.decode(nback_result)
tasks = nback_tables["task"]
print({k: v for k, v in tasks.attrs.items() if k != "description"})
tasks.head(10)

# %%
# The same tables for the flanker meta-analysis; ``map_name=`` picks another map
# (an unknown name raises an error that lists the maps of the result).
flanker_tables = decoder.decode(flanker_result)
uncorrected = decoder.transform(nback_result, level="concept", map_name="z")
print(uncorrected.attrs["map_name"], list(uncorrected.index[:5]))

# %%
# Side by side: the top concepts of both maps
# -------------------------------------------
import pandas as pd

pd.DataFrame(
    {
        "n-back": nback_tables["concept"].index[:10],
        "flanker": flanker_tables["concept"].index[:10],
    },
    index=pd.RangeIndex(1, 11, name="rank"),
)

# %%
# Figures: the corrected map and its decoding
# -------------------------------------------
from brainlm_decode.decode.plotting import plot_decoding

plot_decoding(
    nback_tables,
    img=nback_result.get_map(tasks.attrs["map_name"]),
    top=10,
    title="n-back: MKDADensity, FDR 0.05",
)

# %%
plot_decoding(
    flanker_tables,
    img=flanker_result.get_map(flanker_tables["task"].attrs["map_name"]),
    top=10,
    title="flanker: MKDADensity, FDR 0.05",
)
