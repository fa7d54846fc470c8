"""The Keras 2 layer-graph surface of the tf.keras page: inputs, outputs and masks of the
layer's connections ("nodes"), kept apart from the recurrence because they compute nothing.

A connection is made by calling the layer on a symbolic input (`connect`): the
layer remembers the input, output and mask of each call, in order.
"""


class SymbolicTensor:
    """A placeholder with a shape and a dtype, as a Keras Input is."""

    def __init__(self, shape, dtype="float32"):
        self.shape = tuple(shape)
        self.dtype = dtype

    def __repr__(self):
        return f"SymbolicTensor(shape={self.shape}, dtype={self.dtype})"


class LayerNodes:
    """Mixin: the properties and *_at methods the tf.keras page lists for connected layers."""

    def _nodes(self):
        if not hasattr(self, "_inbound_nodes"):
            self._inbound_nodes = []
        return self._inbound_nodes

    def connect(self, input_shape, masked=False):
        """Call the layer on a symbolic input of `input_shape` (with a mask when `masked`)."""
        if not self.built:
            self.build(input_shape)
        inputs = SymbolicTensor(input_shape, self.compute_dtype)
        mask = SymbolicTensor(tuple(input_shape[:2]), "bool") if masked else None
        shapes = self.compute_output_shape(tuple(input_shape))
        outputs = [SymbolicTensor(s, self.compute_dtype) for s in shapes] if self.return_state else SymbolicTensor(shapes, self.compute_dtype)
        self._nodes().append({"input": inputs, "input_mask": mask, "output": outputs,
                              "output_mask": self.compute_mask(inputs, mask)})
        return outputs

    def _node(self, index, what):
        nodes = self._nodes()
        if not nodes:
            # tf.keras page: "AttributeError: If no inbound nodes are found."
            raise AttributeError(f"Layer {self.name} is not connected, no {what} to return.")
        if index >= len(nodes):
            raise ValueError(f"Asked to get {what} at node {index}, but the layer has only {len(nodes)} inbound nodes.")
        return nodes[index]

    def _only(self, what):
        # Page: "Only applicable if the layer has exactly one input, i.e. if it is connected to one
        # incoming layer", and "AttributeError: if the layer is connected to more than one incoming layers."
        nodes = self._nodes()
        if len(nodes) > 1:
            raise AttributeError(f"Layer {self.name} has multiple inbound nodes: {what} is ill-defined; "
                                 f"use get_{what}_at(node_index).")
        return self._node(0, what)[what]

    def _shape(self, what):
        # Page: input_shape is defined "if all inputs have the same shape", else
        # "AttributeError: if the layer has no defined input_shape" (likewise for outputs).
        shapes = {repr(_shape_of(node[what])) for node in self._nodes()}
        if len(shapes) > 1:
            raise AttributeError(f"Layer {self.name} has multiple inbound nodes with different {what} shapes.")
        return _shape_of(self._node(0, what)[what])

    # Page: "Retrieves the input tensor(s) of a layer." and its siblings.
    input = property(lambda self: self._only("input"))
    output = property(lambda self: self._only("output"))
    input_mask = property(lambda self: self._only("input_mask"))
    output_mask = property(lambda self: self._only("output_mask"))
    input_shape = property(lambda self: self._shape("input"))
    output_shape = property(lambda self: self._shape("output"))

    def get_input_at(self, node_index):
        return self._node(node_index, "input")["input"]

    def get_output_at(self, node_index):
        return self._node(node_index, "output")["output"]

    def get_input_mask_at(self, node_index):
        return self._node(node_index, "input_mask")["input_mask"]

    def get_output_mask_at(self, node_index):
        return self._node(node_index, "output_mask")["output_mask"]

    def get_input_shape_at(self, node_index):
        return _shape_of(self.get_input_at(node_index))

    def get_output_shape_at(self, node_index):
        return _shape_of(self.get_output_at(node_index))

    def apply(self, inputs, *args, **kwargs):
        """Page: "Apply the layer on a input. This simply wraps self.__call__."."""
        return self(inputs, *args, **kwargs)

    def get_losses_for(self, inputs):
        # Page: "RuntimeError: If called in Eager mode." The reference always runs eagerly.
        raise RuntimeError("get_losses_for is not available in Eager mode (the reference always is).")

    def get_updates_for(self, inputs):
        # Page: "RuntimeError: If called in Eager mode." The reference always runs eagerly.
        raise RuntimeError("get_updates_for is not available in Eager mode (the reference always is).")

    @property
    def updates(self):
        # A SimpleRNN has no update ops: its state is assigned, not updated through ops.
        return []


def _shape_of(tensor):
    if isinstance(tensor, list):
        return [t.shape for t in tensor]
    return tensor.shape
