"""The live Qt GUI (PyQt6 + pyqtgraph): run and queue procedures, abort safely, watch the
array as data arrives, generate images, browse recorded runs.

* :mod:`~ftjlab.gui.main_window` - the window (bench panel, form, queue, views, browser, log);
* :mod:`~ftjlab.gui.worker` - jobs on a worker thread, events queued to the GUI thread;
* :mod:`~ftjlab.gui.form` - parameter forms generated from procedure parameters;
* :mod:`~ftjlab.gui.views` - live views per procedure, redrawn at most once per frame;
  their base in :mod:`~ftjlab.gui.liveview`, the views in :mod:`~ftjlab.gui.rtn_view`,
  :mod:`~ftjlab.gui.map_view` and :mod:`~ftjlab.gui.array_views`;
* :mod:`~ftjlab.gui.buffers` - growing buffers and the decimation pyramid (numpy only);
* :mod:`~ftjlab.gui.generation` - the generation view and its image sources;
* :mod:`~ftjlab.gui.browser` - the run browser; :mod:`~ftjlab.gui.panels` - bench and log;
* :mod:`~ftjlab.gui.app` - ``ftjlab gui``; :mod:`~ftjlab.gui.screenshots` - a scripted tour
  that saves a PNG of every main view.
"""
