"""Analysis → Settings: every analysis parameter with a plain label and a tooltip that says what
it does and, where it was measured, its effect; plus the encoder device and the analysis unit.

Fields only change when they have the keyboard focus (the mouse wheel over an unfocused field
scrolls the dialog instead of changing a threshold the curator never meant to touch).
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass

from PySide6 import QtCore, QtWidgets

# name -> (plain label, what it does / measured effect). Order here is the order shown.
HELP: dict[str, tuple[str, str]] = {
    "near_dup_threshold": ("Near-duplicate similarity", "Two prompts whose cosine similarity is at least this are "
                           "near-duplicates (exact copies after normalising case, spaces and punctuation always "
                           "are). Measured on PAWS-Wiki: 0.95 gives precision 0.48, recall 0.84. Higher: fewer, "
                           "surer groups."),
    "dup_verify": ("Verify near-duplicate pairs", "Confirm each near-duplicate pair (cosine ≥ 0.90) with the pair "
                   "verifier instead of the cosine threshold alone."),
    "conflict_prompt_sim": ("Conflict: prompts alike from", "Train examples with prompts at least this similar are "
                            "compared for conflicting responses. Lower: more pairs compared, more conflicts found."),
    "conflict_response_sim": ("Conflict: responses differ below", "Responses less similar than this (in meaning) "
                              "count as disagreeing. On 800 Banking77 rows with 6 swapped answers, all 6 rank in "
                              "the top 12 at the default."),
    "inconsistency_neighbour_sim": ("Inconsistency: neighbours from", "Similarity from which examples count as "
                                    "neighbours for the per-example and per-cluster inconsistency score."),
    "gap_sim": ("Coverage gap below", "A production input whose most similar train prompt is below this is a "
                "coverage gap. Measured on CLINC150: at 0.55, 91% of gap inputs are truly uncovered and 95% of "
                "uncovered inputs are found."),
    "gap_threshold": ("Gap region threshold", "Share of a region's production inputs that must be gaps for the "
                      "region to be reported as a gap."),
    "region_sim": ("Gap region similarity", "How similar production inputs must be to form one gap region."),
    "min_gap": ("Smallest gap (inputs)", "Gap regions with fewer production inputs than this are not listed."),
    "queue_size": ("Review queue length", "How many production inputs the review queue lists."),
    "queue_lambda": ("Review queue diversity", "0 = rank by priority only; higher = spread the queue over more "
                     "different inputs (maximal marginal relevance)."),
    "leak_sim": ("Leakage similarity", "Eval examples with a training prompt at least this similar leak "
                 "(empty/−1 = same as the near-duplicate similarity)."),
    "leak_ngram": ("Leakage n-gram length", "Word n-gram length for the overlap test (13 = the GPT-3 paper's "
                   "contamination test)."),
    "leak_ngram_overlap": ("Leakage n-gram overlap", "An eval example sharing at least this share of its word "
                           "n-grams with a training example leaks."),
    "min_cluster_size": ("Smallest cluster", "Clusters need at least this many examples (−1 = chosen from the "
                         "data size). Higher: fewer, broader clusters."),
    "min_samples": ("Cluster density", "How dense a region must be to start a cluster (HDBSCAN min_samples; −1 = "
                    "same as the smallest cluster). Higher: more examples left out as noise."),
    "cluster_selection": ("Cluster selection", "eom (broad, stable clusters) or leaf (many small ones)."),
    "assign_noise": ("Put noise into clusters", "Assign examples in no cluster to their nearest cluster."),
    "cluster_dims": ("Cluster on dimensions", "2 = cluster the map itself; 5 = a separate 5-D layout (slower, "
                     "sometimes cleaner)."),
    "label_terms": ("Words per cluster label", "How many distinctive words name a cluster."),
    "k": ("Neighbours per example", "Neighbours kept per example in the similarity graph every finding uses. "
          "Higher: slower, finds larger duplicate groups."),
    "umap_neighbors": ("Map: neighbourhood size", "UMAP n_neighbors: higher shows more global structure, lower "
                       "more local detail."),
    "min_dist": ("Map: point spacing", "UMAP min_dist: how tightly points pack on the map."),
    "umap_epochs": ("Map: optimisation rounds", "UMAP epochs (−1 = automatic)."),
    "layout_fit_limit": ("Map: rows fitted", "Above this many rows the map is fitted on a sample and the rest "
                         "are placed into it (faster at 100k+)."),
    "exact_limit": ("Exact search up to", "Up to this many rows neighbours are found exactly; above, with an "
                    "approximate index."),
    "seed": ("Random seed", "Fixes the map and clusters so the same data gives the same picture (−1 = random)."),
}
UNIT_CHOICES = (("last_user", "The last user turn (default)"), ("all_user", "All user turns"),
                ("conversation", "The whole conversation"))
DEVICE_CHOICES = (("auto", "Automatic (GPU when available)"), ("cpu", "CPU"), ("cuda", "CUDA GPU"))


class _NoWheel(QtCore.QObject):
    """Ignores wheel events on fields without focus (they go to the scroll area instead)."""

    def eventFilter(self, obj, ev):  # noqa: N802 - Qt naming
        if ev.type() == QtCore.QEvent.Wheel and isinstance(obj, QtWidgets.QWidget) and not obj.hasFocus():
            ev.ignore()
            return True
        return False


class AnalysisSettingsDialog(QtWidgets.QDialog):
    """Edit the analysis parameters (saved in the project), the encoder device and the unit."""

    def __init__(self, params, parent=None, *, device: str = "auto", unit: str = "last_user"):
        super().__init__(parent)
        self.setWindowTitle("Analysis settings")
        self.setObjectName("analysisSettings")
        self.params = params
        self._no_wheel = _NoWheel(self)
        lay = QtWidgets.QVBoxLayout(self)
        note = QtWidgets.QLabel("Used by the next analysis (Ctrl+R) and saved in the project. Hover over a "
                                "field to see what it does.")
        note.setWordWrap(True)
        lay.addWidget(note)
        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.ExpandingFieldsGrow)
        self.device = self._choice(DEVICE_CHOICES, device)
        self.device.setToolTip("Where the embedding model runs. Automatic uses a CUDA GPU when one works, else "
                               "the CPU (int8). The status bar shows the device in use.")
        form.addRow(self._label("Encoder device", self.device.toolTip()), self.device)
        self.unit = self._choice(UNIT_CHOICES, unit)
        self.unit.setToolTip("What is embedded and compared for chat data. Changing it reloads the data.")
        form.addRow(self._label("Analysis unit", self.unit.toolTip()), self.unit)
        self.editors: dict[str, QtWidgets.QWidget] = {}
        if is_dataclass(params):
            present = {f.name: f for f in fields(params)}
            order = [n for n in HELP if n in present] + [n for n in present if n not in HELP]
            for name in order:
                v = getattr(params, name)
                ed = self._editor(v, present[name])
                if ed is None:
                    continue
                label, tip = HELP.get(name, (name.replace("_", " ").capitalize(), ""))
                tip = f"{tip}\n\n(parameter: {name}; default {getattr(type(params)(), name)!r})".strip()
                ed.setToolTip(tip)
                form.addRow(self._label(label, tip), ed)
                self.editors[name] = ed
        holder = QtWidgets.QWidget()
        holder.setLayout(form)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
        lay.addWidget(scroll, 1)
        buttons = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.Ok | QtWidgets.QDialogButtonBox.Cancel
                                             | QtWidgets.QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QtWidgets.QDialogButtonBox.RestoreDefaults).clicked.connect(self._defaults)
        lay.addWidget(buttons)
        self.resize(560, min(620, max(400, parent.height() - 60) if parent is not None else 620))

    # -- fields ----------------------------------------------------------------------------------
    @staticmethod
    def _label(text: str, tip: str) -> QtWidgets.QLabel:
        lab = QtWidgets.QLabel(text)
        lab.setToolTip(tip)
        return lab

    def _guard(self, w: QtWidgets.QWidget) -> QtWidgets.QWidget:
        w.setFocusPolicy(QtCore.Qt.StrongFocus)  # no focus by wheel
        w.installEventFilter(self._no_wheel)
        return w

    def _choice(self, choices, value) -> QtWidgets.QComboBox:
        box = QtWidgets.QComboBox()
        for key, text in choices:
            box.addItem(text, key)
        i = box.findData(value)
        box.setCurrentIndex(max(0, i))
        return self._guard(box)

    def _editor(self, v, f):
        optional = "None" in str(f.type)
        if v is None and optional:  # "automatic": shown as -1
            v = -1.0 if "float" in str(f.type) else -1
        if isinstance(v, bool):
            w = QtWidgets.QCheckBox()
            w.setChecked(v)
            return self._guard(w)
        if isinstance(v, int):
            w = QtWidgets.QSpinBox()
            w.setRange(-1, 10_000_000)
            w.setValue(v)
            if optional:
                w.setSpecialValueText("automatic")
            return self._guard(w)
        if isinstance(v, float):
            w = QtWidgets.QDoubleSpinBox()
            w.setDecimals(3)
            w.setRange(-1.0, 1e6)
            w.setSingleStep(0.01)
            w.setValue(v)
            if optional:
                w.setSpecialValueText("automatic")
            return self._guard(w)
        if isinstance(v, str):
            if f.name == "cluster_selection":
                return self._choice((("eom", "eom"), ("leaf", "leaf")), v)
            return self._guard(QtWidgets.QLineEdit(v))
        return None

    def _defaults(self) -> None:
        default = type(self.params)()
        for name, ed in self.editors.items():
            v = getattr(default, name)
            if v is None:
                v = -1
            if isinstance(ed, QtWidgets.QCheckBox):
                ed.setChecked(bool(v))
            elif isinstance(ed, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
                ed.setValue(v)
            elif isinstance(ed, QtWidgets.QComboBox):
                ed.setCurrentIndex(max(0, ed.findData(v)))
            elif isinstance(ed, QtWidgets.QLineEdit):
                ed.setText(str(v))
        self.device.setCurrentIndex(0)
        self.unit.setCurrentIndex(0)

    def values(self) -> dict:
        """The analysis parameters as typed (−1 in an "automatic" field = None)."""
        out = {}
        present = {f.name: f for f in fields(self.params)} if is_dataclass(self.params) else {}
        for name, ed in self.editors.items():
            if isinstance(ed, QtWidgets.QCheckBox):
                v = ed.isChecked()
            elif isinstance(ed, (QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox)):
                v = ed.value()
                if v == -1 and name in present and "None" in str(present[name].type):
                    v = None
            elif isinstance(ed, QtWidgets.QComboBox):
                v = ed.currentData()
            else:
                v = ed.text()
            out[name] = v
        return out

    def device_value(self) -> str:
        return str(self.device.currentData())

    def unit_value(self) -> str:
        return str(self.unit.currentData())
