"""Prepaid power-metering cabinet, part 1: the metering controller (board, scenario, Modbus master, checks, report, demo)."""
