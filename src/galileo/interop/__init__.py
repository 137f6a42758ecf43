"""Interop with the original Galileo's data components (Galileo 0.x): the etcd mirror of the
routing table for its Go load balancer. (Its InfluxDB runtime store lives in
:mod:`galileo.storage.influx`, beside the other stores.)"""
